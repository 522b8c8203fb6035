"""Spaces: a repository's Gradio, Streamlit or static app, run as a compute instance of kind "space"
and reached through the hub at /apps/{owner}/{name}/."""
