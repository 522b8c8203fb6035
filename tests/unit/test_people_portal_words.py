"""Every word the people pages show has its Chinese, and those words change no other page's."""

from __future__ import annotations

import re
from pathlib import Path

from csghub.web.i18n import translate
from csghub.web.i18n_people import ZH_PEOPLE

WEB = Path(__file__).resolve().parents[2] / "src" / "csghub" / "web"
_T_CALL = re.compile(r"\bt\('((?:[^'\\]|\\.)*)'\)")
TEMPLATES = (
    "_profile_form.html",
    "_profile_about.html",
    "_notifications_link.html",
    "notifications.html",
    "collections_all.html",
    "profile.html",
)
# Shown through t() from Python: the notices of web/profile_edit_pages.py and the link labels of
# web/profile_pages.py.
NOTICES = {"Profile saved", "Avatar saved", "Avatar removed"}
# The status changes notifications.html names through its STATUS_WORDS (t() of a variable).
STATUS_WORDS = {
    "closed a discussion in",
    "reopened a discussion in",
    "merged a pull request in",
    "changed the status of a discussion in",
}
LINKS = {"Homepage", "GitHub", "Twitter / X", "LinkedIn"}


def test_every_word_of_the_people_pages_has_chinese() -> None:
    words = NOTICES | LINKS | STATUS_WORDS
    for name in TEMPLATES:
        words |= set(_T_CALL.findall((WEB / "templates" / name).read_text()))
    assert {"Upload avatar", "Mark all as read", "Search collections", "mentioned you in"} <= words
    same = {"GitHub", "Twitter / X"}  # names, the same in Chinese
    missing = sorted(w for w in words - same if translate("zh", w) == w)
    assert missing == []


def test_the_people_words_change_no_other_pages_words() -> None:
    names = [p.name for p in WEB.glob("i18n*.py") if p.name != "i18n_people.py"]
    others = "".join((WEB / n).read_text() for n in names)
    assert [k for k in ZH_PEOPLE if f'"{k}":' in others] == []
