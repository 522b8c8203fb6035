"""Upload scanning: pickle-based files checked for imports that run code when they are loaded."""
