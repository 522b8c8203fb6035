"""Every word the Playground, Compare view and try-it panel show, in the templates and in chat.js, has
its Chinese: a page half in English is what a missing key looks like."""

from __future__ import annotations

import re
from pathlib import Path

from csghub.web import playground_pages
from csghub.web.i18n import translate

WEB = Path(playground_pages.__file__).parent
TEMPLATES = ("playground.html", "playground_chat.html", "compare.html", "_try_it.html")
STATES = ("Pending", "Building", "Deploying", "Running", "Stopped", "Failed")  # t(endpoint.state | capitalize)
_T_CALL = re.compile(r"\bt\('([^']+)'\)")
_SAYS = re.compile(r'say\(words, "([^"]+)"')


def _template_words() -> set[str]:
    return {w for name in TEMPLATES for w in _T_CALL.findall((WEB / "templates" / name).read_text())}


def test_playground_pages_words_all_have_chinese() -> None:
    words = _template_words() | set(STATES)
    assert len(words) > 25
    missing = sorted(w for w in words if translate("zh", w) == w)
    assert missing == []


def test_chat_script_words_are_the_pages_and_all_have_chinese() -> None:
    spoken = set(_SAYS.findall((WEB / "static" / "chat.js").read_text()))
    given = playground_pages.script_words("zh")
    assert spoken and spoken <= set(given)
    assert [w for w, zh in given.items() if zh == w] == []
    assert playground_pages.script_words("en")["{rate} tokens/s"] == "{rate} tokens/s"
