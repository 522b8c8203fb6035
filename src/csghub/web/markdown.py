"""Model cards to safe HTML, as the Hugging Face Hub renders them: markdown-it-py with GitHub's
extensions (tables, task lists, alerts, footnotes, autolinks; mdit-py-plugins' gfm), math in `$...$`,
`$$...$$`, `\\(...\\)` and `\\[...\\]` as MathML (markdown_math.py), Pygments for fenced code, raw
HTML allowed. nh3 then removes anything active (scripts, event handlers, javascript: links, styles,
MathML links) and resolves relative links against the repository (markdown_links.py). The result is
inert whatever the README holds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import nh3
import yaml
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.gfm import gfm_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound

from csghub.services.context import Hub
from csghub.services.repositories.cards import parse_card_data, split_front_matter
from csghub.services.repositories.documents import rendered
from csghub.web.markdown_links import ID_PREFIX, RepoLinks, attribute_filter
from csghub.web.markdown_math import MATH_ATTRIBUTES, latex_brackets_plugin, to_mathml

_ALLOWED_TAGS = (
    nh3.ALLOWED_TAGS
    | {"span", "div", "pre", "code", "table", "thead", "tbody", "tr", "th", "td", "img", "input", "section"}
    | set(MATH_ATTRIBUTES)
)
_ALLOWED_ATTRIBUTES = {
    **nh3.ALLOWED_ATTRIBUTES,
    **MATH_ATTRIBUTES,
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "img": {"src", "alt", "title", "width", "height"},
    "a": {"href", "title", "id"},
    "th": {"align"},
    "td": {"align"},
    "input": {"checked", "disabled"},
    # Footnotes and their back links (ids get ID_PREFIX, so a README cannot take over the page's own).
    "sup": {"id"},
    "li": {"id"},
    **{f"h{level}": {"id"} for level in range(1, 7)},
}
# Classes that the extensions emit, on elements where a README's own classes are not wanted.
_ALLOWED_CLASSES = {
    "ul": {"contains-task-list"},
    "ol": {"footnotes-list"},
    "li": {"task-list-item", "footnote-item"},
    "input": {"task-list-item-checkbox"},
    "p": {"markdown-alert-title"},
    "section": {"footnotes"},
    "sup": {"footnote-ref"},
    "a": {"footnote-backref"},
    "hr": {"footnotes-sep"},
}
# Checkboxes only, and never one a reader could tick: a card is not a form.
_INPUT_VALUES = {"input": {"type": {"checkbox"}}}
_INPUT_FORCED = {"input": {"disabled": "disabled"}}


# One formatter for every block: building one computes a whole stylesheet (milliseconds each, so a card
# with forty code blocks spent most of its time here); formatting does not change it.
_FORMATTER = HtmlFormatter(nowrap=True)


def _highlight(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang) if lang else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""  # markdown-it escapes and wraps it itself
    return highlight(code, lexer, _FORMATTER)


def _math(display: bool) -> Callable[[RendererHTML, Sequence[Token], int, OptionsDict, EnvType], str]:
    """The render rule of a math token: MathML, or the source when latex2mathml cannot read it."""

    def render(_self: RendererHTML, tokens: Sequence[Token], idx: int, _options: OptionsDict, _env: EnvType) -> str:
        mathml = to_mathml(tokens[idx].content, display=display)
        # A display formula on its own lines is a block; `$$...$$` inside a paragraph stays in it.
        return mathml + "\n" if tokens[idx].block else mathml

    return render


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": False, "highlight": _highlight})
    gfm_plugin(md)  # tables, strikethrough, autolinks, task lists (disabled boxes), alerts, footnotes
    # `$5 and $10` stays prose: no space inside the dollars, no digit right after the closing one.
    md.use(
        dollarmath_plugin,
        allow_space=False,
        allow_digits=False,
        allow_labels=False,
        allow_blank_lines=False,
        double_inline=True,
    )
    md.use(anchors_plugin, max_level=6)  # headings get ids, so `[Usage](#usage)` and shared links work
    md.use(latex_brackets_plugin)  # \\(...\\) and \\[...\\], as LaTeX writes them
    for kind, display in (("math_inline", False), ("math_inline_double", True), ("math_block", True)):
        md.add_render_rule(kind, _math(display))
    return md


_md = _parser()


def render_markdown(text: str, links: RepoLinks | None = None) -> str:
    """`text` as safe HTML; relative links resolve against `links` (left as written without one)."""
    html = _md.render(text)
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        allowed_classes=_ALLOWED_CLASSES,
        tag_attribute_values=_INPUT_VALUES,
        set_tag_attribute_values=_INPUT_FORCED,
        attribute_filter=attribute_filter(links),
        id_prefix=ID_PREFIX,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def render_card(readme: str, links: RepoLinks | None = None) -> str:
    """A README without its YAML front matter (that becomes the sidebar), as safe HTML."""
    _front, body = split_front_matter(readme)
    return render_markdown(body, links)


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


def render_document(text: str, links: RepoLinks | None = None) -> tuple[FrontMatter | None, str]:
    """A markdown file as the Hub shows it: its front matter as metadata, only the body rendered."""
    front, body = split_front_matter(text)
    if front is None:
        return None, render_markdown(text, links)
    card = parse_card_data(text)
    rows = [(key, _cell(value)) for key, value in card.items()]
    return FrontMatter(rows, front), render_markdown(body, links)


@dataclass(frozen=True, slots=True)
class MarkdownFile:
    """A markdown file at a commit, as the key of its rendering: a commit id never changes meaning, so
    (repository, commit, path, where links point) names the HTML. The text rides along, unhashed."""

    repo_id: int
    commit: str
    path: str
    links: RepoLinks
    text: str = field(compare=False, repr=False)


def _card(source: MarkdownFile) -> str:
    return render_card(source.text, source.links)


def _document(source: MarkdownFile) -> tuple[FrontMatter | None, str]:
    return render_document(source.text, source.links)


# A long card with math takes tens of milliseconds to render; the card is the page people land on, so
# it is rendered once per commit, not once per visit.
def cached_card(hub: Hub, source: MarkdownFile) -> str:
    return rendered(hub, _card, source)


def cached_document(hub: Hub, source: MarkdownFile) -> tuple[FrontMatter | None, str]:
    return rendered(hub, _document, source)


def highlight_file(path: str, text: str) -> str:
    """Source code as escaped, coloured HTML lines (Pygments picks the lexer by file name)."""
    try:
        lexer = get_lexer_for_filename(path, text)
    except ClassNotFound:
        lexer = TextLexer()
    return highlight(text, lexer, _FORMATTER)


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
