"""Xet storage as a service: the CAS clients talk to, the content-addressed store, garbage collection."""
