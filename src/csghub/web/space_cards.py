"""What a space's card shows in listings and on its page, from its README's front matter as the Hugging
Face Hub reads it: the SDK, `title`, `emoji`, `colorFrom`/`colorTo`, and the `models` and `datasets` it
declares, linked only when they exist and the viewer may read them (looked up once for a whole page)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from csghub.core.names import RepoType
from csghub.services.context import Hub
from csghub.services.permissions import Actor
from csghub.services.repositories import mentions
from csghub.services.repositories.repos import RepoView
from csghub.web import space_states

# The Hub's card colours; anything else falls back to gray. They become CSS classes (the page's
# Content-Security-Policy forbids inline styles).
COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")
# The SDKs this hub runs; a card naming another (docker) is a plain repository here.
SDK_NAMES = {"gradio": "Gradio", "streamlit": "Streamlit", "static": "Static"}


@dataclass(frozen=True, slots=True)
class SpaceCard:
    sdk: str  # "" when the card names none this hub knows: a plain repository, no app
    title: str
    emoji: str
    color_from: str
    color_to: str
    models: tuple[str, ...] = ()  # declared, existing and visible to the viewer, as the hub spells them
    datasets: tuple[str, ...] = ()
    state: str = ""  # the running state (services/spaces), when known

    @property
    def sdk_name(self) -> str:
        return SDK_NAMES.get(self.sdk, "")


def _color(value: object, fallback: str) -> str:
    text = str(value or "").strip().lower()
    return text if text in COLORS else fallback


def _text(value: object, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def sdk_of(repo: RepoView) -> str:
    sdk = str(repo.card_data.get("sdk") or "").strip().lower()
    return sdk if sdk in SDK_NAMES else ""


def bare_card(repo: RepoView) -> SpaceCard:
    """The card from the front matter alone (no links): for places that show a few spaces."""
    card = repo.card_data
    return SpaceCard(
        sdk=sdk_of(repo),
        title=_text(card.get("title"), 100),
        emoji=_text(card.get("emoji"), 8),
        color_from=_color(card.get("colorFrom"), "gray"),
        color_to=_color(card.get("colorTo"), "gray"),
    )


def space_cards(
    hub: Hub, actor: Actor, spaces: Iterable[RepoView], states: dict[int, str] | None = None
) -> dict[int, SpaceCard]:
    """Each space's card by repository id, its declared models and datasets filtered for `actor`."""
    spaces = [s for s in spaces if s.type is RepoType.SPACE]
    declared = {
        s.id: (mentions.mentioned(s.card_data, "models"), mentions.mentioned(s.card_data, "datasets")) for s in spaces
    }
    models = mentions.visible_names(hub, actor, RepoType.MODEL, (m for ms, _ in declared.values() for m in ms))
    datasets = mentions.visible_names(hub, actor, RepoType.DATASET, (d for _, ds in declared.values() for d in ds))
    cards = {}
    for space in spaces:
        listed_models, listed_datasets = declared[space.id]
        base = bare_card(space)
        cards[space.id] = SpaceCard(
            sdk=base.sdk,
            title=base.title,
            emoji=base.emoji,
            color_from=base.color_from,
            color_to=base.color_to,
            models=tuple(models[m.lower()] for m in listed_models if m.lower() in models),
            datasets=tuple(datasets[d.lower()] for d in listed_datasets if d.lower() in datasets),
            state=(states or {}).get(space.id, ""),
        )
    return cards


def listing_cards(hub: Hub, actor: Actor, spaces: Iterable[RepoView]) -> dict[int, SpaceCard]:
    """The cards of a listing page, with each space's running state (one query for the page)."""
    shown = [s for s in spaces if s.type is RepoType.SPACE]
    return space_cards(hub, actor, shown, space_states.states_of(shown, hub))
