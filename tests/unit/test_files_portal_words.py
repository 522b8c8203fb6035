"""Every word the file pages' additions show has its Chinese, and those words change no other page's."""

from __future__ import annotations

import re
from pathlib import Path

from csghub.web.i18n import translate
from csghub.web.i18n_files import ZH_FILES

WEB = Path(__file__).resolve().parents[2] / "src" / "csghub" / "web"
_T_CALL = re.compile(r"\bt\('((?:[^'\\]|\\.)*)'\)")
# Shown through t() with a computed argument: the storage headings and the count's noun.
COMPUTED = {"Stored with Git LFS", "Stored with Xet", "commit", "commits"}
TEMPLATES = ("_tree_head.html", "_file_details.html", "_card_stats.html", "file_commits.html", "tree.html")


def test_every_word_of_the_file_pages_has_chinese() -> None:
    words = set(COMPUTED)
    for name in TEMPLATES:
        words |= set(_T_CALL.findall((WEB / "templates" / name).read_text()))
    assert {"Downloads last month", "Model size", "Pointer size", "older", "History"} <= words
    missing = sorted(w for w in words if translate("zh", w) == w)
    assert missing == []


def test_the_file_words_change_no_other_pages_words() -> None:
    others = "".join(p.read_text() for p in WEB.glob("i18n*.py") if p.name != "i18n_files.py")
    assert [k for k in ZH_FILES if f'"{k}":' in others] == []
