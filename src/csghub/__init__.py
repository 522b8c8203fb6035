"""CSGHub: a self-hostable hub for LLM assets."""

__version__ = "0.1.0"
