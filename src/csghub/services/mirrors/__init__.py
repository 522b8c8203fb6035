"""Mirroring: sources (other hubs this one copies from), mirrored repositories kept in sync by jobs on the
compute runtime, and the pull-through cache that fetches from a source on first request."""
