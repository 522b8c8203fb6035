"""Compute: records of work (endpoints now; fine-tunes, notebooks, spaces later), the rules over them,
and the supervisor that makes what runs match what was asked, through a runner per cluster."""
