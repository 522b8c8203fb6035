"""Spaces: Gradio, Streamlit and static apps run from space repositories (docs/spaces.md)."""
