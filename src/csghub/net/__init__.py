"""Outbound HTTP: every connection this hub makes to another server (mirror sources, the pull-through
cache's upstream, webhooks) goes through here, so the address rules are checked at each connection."""
