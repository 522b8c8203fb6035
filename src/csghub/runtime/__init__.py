"""Adapter: where compute work runs. The Runner port (base.py) with one implementation per backend
(local supervised processes, Ray), and the runtime environments that work runs in."""
