"""Mirrors: other hubs' repositories kept here, synced on a schedule or brought on demand (the pull-through cache)."""
