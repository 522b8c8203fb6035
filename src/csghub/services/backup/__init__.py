"""Backups of a serving hub and their restore: the database, repositories, LFS and Xet objects, settings."""
