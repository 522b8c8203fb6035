"""static/chat.js shows what models and servers say: it must never hand that text to the HTML parser."""

from __future__ import annotations

import re
from pathlib import Path

from csghub.web import playground_pages

CHAT_JS = Path(playground_pages.__file__).parent / "static" / "chat.js"


def test_chat_script_sets_text_never_html() -> None:
    script = CHAT_JS.read_text()
    assert re.findall(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function", script) == []
    # Every answer and message reaches the page through textContent or text nodes.
    assert script.count(".textContent =") >= 8 and "createTextNode" in script
