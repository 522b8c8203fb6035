"""Repositories and their content: create and list, commits, refs, files, LFS, writes and pushes."""
