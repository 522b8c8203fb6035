"""Every word the pull-request pages show has its Chinese, and those words change no other page's."""

from __future__ import annotations

import re
from pathlib import Path

from csghub.web.i18n import translate
from csghub.web.i18n_pulls import ZH_PULLS
from csghub.web.pull_pages import STATUS_WORDS

WEB = Path(__file__).resolve().parents[2] / "src" / "csghub" / "web"
_T_CALL = re.compile(r"\bt\('((?:[^'\\]|\\.)*)'\)")
# Shown through t() from expressions: the event lines and the buttons that depend on the status.
SPOKEN = {
    "closed this pull request",
    "merged this pull request",
    "reopened this pull request",
    "Close pull request",
    "Reopen pull request",
    "No open pull requests.",
    "No closed pull requests.",
}


def test_every_word_of_the_pull_request_pages_has_chinese() -> None:
    words = SPOKEN | set(STATUS_WORDS.values())
    for name in ("pull.html", "_file_diff.html", "_pull_option.html", "community.html"):
        words |= set(_T_CALL.findall((WEB / "templates" / name).read_text()))
    assert {"Files changed", "Merge pull request", "Pull requests"} <= words
    assert sorted(w for w in words if translate("zh", w) == w) == []


def test_the_pull_request_words_change_no_other_pages_words() -> None:
    names = [p for p in WEB.glob("i18n*.py") if p.name != "i18n_pulls.py"]
    others = "".join(p.read_text() for p in names)
    assert [k for k in ZH_PULLS if f'"{k}":' in others] == []
