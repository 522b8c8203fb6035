"""Every word the search pages, the listings' chips, the quick results and the first steps show has its
Chinese, and those words change no other page's."""

from __future__ import annotations

import re
from pathlib import Path

from csghub.web.i18n import translate
from csghub.web.i18n_search import ZH_SEARCH
from csghub.web.listing_pages import FILTER_LABELS

WEB = Path(__file__).resolve().parents[2] / "src" / "csghub" / "web"
_T_CALL = re.compile(r"\bt\('((?:[^'\\]|\\.)*)'\)")
TEMPLATES = ("search.html", "list.html", "_first_steps.html", "_quicksearch.html", "home.html")


def test_every_word_of_the_search_pages_has_chinese() -> None:
    words = set(FILTER_LABELS.values()) | {"Models", "Datasets", "Spaces", "Codes", "User", "Organization"}
    for name in TEMPLATES:
        words |= set(_T_CALL.findall((WEB / "templates" / name).read_text()))
    assert {"Push with git", "Point huggingface_hub at this hub", "Clear filters", "No matches"} <= words
    missing = sorted(w for w in words - {"SDK"} if translate("zh", w) == w)  # SDK reads the same in Chinese
    assert missing == []


def test_the_search_words_change_no_other_pages_words() -> None:
    names = [p.name for p in WEB.glob("i18n*.py") if p.name != "i18n_search.py"]
    others = "".join((WEB / n).read_text() for n in names)
    assert [k for k in ZH_SEARCH if f'"{k}":' in others] == []
