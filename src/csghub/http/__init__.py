"""Shared HTTP plumbing of the API, the portal and the transports: errors, credentials, streams."""
