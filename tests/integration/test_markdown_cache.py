"""Rendered cards are kept on the Hub by (repository, commit, path, where links point): a second visit
to the same commit reuses the HTML, and another commit or revision in the URL renders anew."""

from __future__ import annotations

from pathlib import Path

import pytest

from csghub.config import load_settings
from csghub.services.context import Hub
from csghub.web.markdown import MarkdownFile, cached_card, cached_document
from csghub.web.markdown_links import RepoLinks
from csghub.wiring import build_hub, open_hub

FIRST, SECOND = "1" * 40, "2" * 40
MAIN = RepoLinks("/alice/bert", "main")


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    settings = load_settings({}, None, {"data_dir": tmp_path / "data"})
    build_hub(settings)
    return open_hub(settings)


def test_cached_card_renders_a_commit_once(hub: Hub) -> None:
    html = cached_card(hub, MarkdownFile(7, FIRST, "README.md", MAIN, "# One $x^2$\n"))
    again = cached_card(hub, MarkdownFile(7, FIRST, "README.md", MAIN, "# One $x^2$\n"))
    assert again is html and "<math" in html
    # The commit names the text: the same key is the same HTML, whatever text rides along.
    assert cached_card(hub, MarkdownFile(7, FIRST, "README.md", MAIN, "# Other\n")) is html


def test_cached_card_renders_another_commit_revision_or_repository_anew(hub: Hub) -> None:
    html = cached_card(hub, MarkdownFile(7, FIRST, "README.md", MAIN, "![a](a.png)\n"))
    newer = cached_card(hub, MarkdownFile(7, SECOND, "README.md", MAIN, "![b](b.png)\n"))
    tagged = cached_card(hub, MarkdownFile(7, FIRST, "README.md", RepoLinks("/alice/bert", "v1"), "![a](a.png)\n"))
    other = cached_card(hub, MarkdownFile(8, FIRST, "README.md", RepoLinks("/bob/gpt", "main"), "![a](a.png)\n"))
    assert '"/alice/bert/resolve/main/a.png"' in html
    assert '"/alice/bert/resolve/main/b.png"' in newer
    assert '"/alice/bert/resolve/v1/a.png"' in tagged
    assert '"/bob/gpt/resolve/main/a.png"' in other


def test_cached_card_and_document_of_one_file_are_kept_apart(hub: Hub) -> None:
    text = "---\nlicense: mit\n---\n# Title\n"
    source = MarkdownFile(7, FIRST, "README.md", MAIN, text)
    card = cached_card(hub, source)
    front, body = cached_document(hub, source)
    assert front is not None and front.rows == [("license", "mit")]
    assert card == body and "license" not in card
