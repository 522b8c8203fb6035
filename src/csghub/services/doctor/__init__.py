"""`csghub doctor`: checks that what the hub promises holds on disk, in storage and in the database."""
