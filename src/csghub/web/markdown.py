"""Model cards to safe HTML: markdown-it-py renders (raw HTML allowed, as on the Hugging Face Hub),
Pygments colours fenced code, and nh3 removes anything active: scripts, event handlers, javascript:
links, styles. The result is inert whatever the README holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import nh3
import yaml
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound

from csghub.services.repositories.cards import parse_card_data, split_front_matter

_ALLOWED_TAGS = nh3.ALLOWED_TAGS | {"span", "div", "pre", "code", "table", "thead", "tbody", "tr", "th", "td", "img"}
_ALLOWED_ATTRIBUTES = {
    **nh3.ALLOWED_ATTRIBUTES,
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "img": {"src", "alt", "title", "width", "height"},
    "a": {"href", "title"},
    "th": {"align"},
    "td": {"align"},
}


def _highlight(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang) if lang else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""  # markdown-it escapes and wraps it itself
    return highlight(code, lexer, HtmlFormatter(nowrap=True))


_md = MarkdownIt("commonmark", {"html": True, "linkify": False, "highlight": _highlight}).enable("table")


def render_markdown(text: str) -> str:
    html = _md.render(text)
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def render_card(readme: str) -> str:
    """A README without its YAML front matter (that becomes the sidebar), as safe HTML."""
    _front, body = split_front_matter(readme)
    return render_markdown(body)


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """A markdown file's YAML header, shown apart from its body: rows when it parses as a mapping, else raw."""

    rows: list[tuple[str, str]]
    raw: str


def _cell(value: Any) -> str:
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return yaml.safe_dump(value, allow_unicode=True, sort_keys=False).strip()
    return "" if value is None else str(value)


def render_document(text: str) -> tuple[FrontMatter | None, str]:
    """A markdown file as the Hub shows it: its front matter as metadata, only the body rendered."""
    front, body = split_front_matter(text)
    if front is None:
        return None, render_markdown(text)
    card = parse_card_data(text)
    rows = [(key, _cell(value)) for key, value in card.items()]
    return FrontMatter(rows, front), render_markdown(body)


def highlight_file(path: str, text: str) -> str:
    """Source code as escaped, coloured HTML lines (Pygments picks the lexer by file name)."""
    try:
        lexer = get_lexer_for_filename(path, text)
    except ClassNotFound:
        lexer = TextLexer()
    return highlight(text, lexer, HtmlFormatter(nowrap=True))


# Pygments' default style meets WCAG AA contrast on a light panel, GitHub's dark one on a dark panel.
_LIGHT_STYLE, _DARK_STYLE = "default", "github-dark"


def _token_colours(style: str, root: str) -> str:
    return "\n".join(HtmlFormatter(style=style).get_token_style_defs([f"{root} .hl", f"{root} .markdown pre"]))


def pygments_css() -> str:
    """Colours for highlighted files (.hl) and for fenced code in rendered markdown, one set per theme.

    A theme comes from the header's toggle (`data-theme`) or, without a choice, from the system's
    colour scheme. Each set applies under its own theme only: a token that one style colours and the
    other leaves alone must never keep the light colour on the dark background. Backgrounds are the
    portal's panel colour (app.css)."""
    return "\n".join(
        [
            _token_colours(_LIGHT_STYLE, ':root[data-theme="light"]'),
            _token_colours(_DARK_STYLE, ':root[data-theme="dark"]'),
            "@media not all and (prefers-color-scheme: dark) {",
            _token_colours(_LIGHT_STYLE, ':root:not([data-theme="dark"])'),
            "}",
            "@media (prefers-color-scheme: dark) {",
            _token_colours(_DARK_STYLE, ':root:not([data-theme="light"])'),
            "}",
        ]
    )
