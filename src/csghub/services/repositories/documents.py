"""Documents rendered from a commit's files (a model card, a markdown file in the tree), kept on the Hub.

The portal renders; this module owns the cache. A source names a file at a commit (and whatever else
changes the output, such as where its relative links point) and carries the text with it; a commit id
never changes meaning, so an entry never goes stale and needs no invalidation."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from csghub.services.context import Hub

S = TypeVar("S", bound=Hashable)
T = TypeVar("T")


def rendered(hub: Hub, render: Callable[[S], T], source: S) -> T:
    """render(source), made once while it stays among the recently used (`render` is part of the key)."""
    return hub.rendered.get(render, source)
