"""The spaces' pages' parts: every word they show has its Chinese (and adds none that changes another
page's), and a card's front matter as the listing reads it (colours, SDK, declared repositories)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from csghub.core.names import RepoType
from csghub.services.repositories.cards import derive_tags
from csghub.services.repositories.mentions import mentioned
from csghub.services.repositories.repos import RepoView
from csghub.web import i18n, space_cards
from csghub.web.i18n import translate
from csghub.web.i18n_spaces import ZH_SPACES

WEB = Path(space_cards.__file__).parent
_T_CALL = re.compile(r"\bt\('((?:[^'\\]|\\.)+)'\)")
_TEMPLATES = ("space.html", "space_logs.html", "_space_settings.html", "_space_state.html", "_repo_card.html")
STATE_LABELS = re.compile(r"'[a-z-]+': '([A-Z][a-z ]+)'")
SAME_IN_CHINESE = {"SDK"}


def _template_words() -> set[str]:
    words: set[str] = set()
    for name in _TEMPLATES:
        text = (WEB / "templates" / name).read_text()
        words |= {w.replace("\\'", "'") for w in _T_CALL.findall(text)}
        words |= set(STATE_LABELS.findall(text))
    return words


def test_every_word_of_the_space_pages_has_chinese() -> None:
    words = _template_words() | {"Restart", "Factory rebuild", "Pause", "Run", "SDK"}
    assert {"Build error", "Sleeping", "No app", "Secrets", "Variables"} <= words
    missing = sorted(w for w in words - SAME_IN_CHINESE if translate("zh", w) == w)
    assert missing == []


def test_the_spaces_words_change_no_other_pages_words() -> None:
    others = "".join((WEB / n).read_text() for n in ("i18n.py", "i18n_chat.py", "i18n_metadata.py", "i18n_finetune.py"))
    assert [k for k in ZH_SPACES if f'"{k}":' in others] == []
    assert i18n.translate("zh", "Running") == "运行中" and i18n.translate("zh", "Build error") == "构建失败"


def _space(card: dict[str, object]) -> RepoView:
    moment = datetime(2026, 1, 1)
    return RepoView(1, RepoType.SPACE, "acme", "demo", "public", "", "main", "", card, [], "", 0, 0, moment, moment)


def test_a_space_card_reads_the_hubs_front_matter_and_refuses_what_it_does_not_know() -> None:
    card = space_cards.bare_card(_space({"sdk": "Gradio", "title": "Demo", "emoji": "🤖", "colorFrom": "Indigo"}))
    assert (card.sdk, card.sdk_name, card.title, card.emoji) == ("gradio", "Gradio", "Demo", "🤖")
    assert (card.color_from, card.color_to) == ("indigo", "gray")
    odd = space_cards.bare_card(_space({"sdk": "docker", "colorTo": "url(x)", "title": ["not", "text"]}))
    assert (odd.sdk, odd.sdk_name, odd.color_to, odd.title) == ("", "", "gray", "")


def test_declared_repositories_are_read_as_ids_in_order_without_repeats() -> None:
    card = {"models": ["acme/a", "bad id", "acme/a", 3, "acme/b"], "datasets": "acme/data"}
    assert mentioned(card, "models") == ["acme/a", "acme/b"]
    assert mentioned(card, "datasets") == ["acme/data"]
    assert mentioned({}, "models") == []


def test_a_space_is_tagged_with_its_sdk_as_the_hub_tags_spaces() -> None:
    assert derive_tags({"sdk": "Streamlit", "license": "mit"}, [], space=True) == ["streamlit", "license:mit"]
    assert derive_tags({"sdk": "unknown"}, [], space=True) == []
    assert derive_tags({"sdk": "gradio"}, []) == []
