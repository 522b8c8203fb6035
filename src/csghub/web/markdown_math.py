"""LaTeX in markdown to MathML on the server, so that formulas show without a script or a CDN.

latex2mathml does the conversion. Its own serialiser unescapes the whole document, which would turn
`\\text{<b>}` into live markup, so the element tree is serialised here instead: text is unescaped once
(latex2mathml writes symbols as character references) and escaped again by ElementTree. What comes out
still goes through the sanitiser (markdown.py) with the allow-list below; this module only has to be
correct, not to be the safety net."""

from __future__ import annotations

import html
from xml.etree.ElementTree import Element, tostring

from latex2mathml.converter import convert_to_element
from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline

# Formulas longer than this are shown as source: conversion time grows with them, and a card is
# rendered on a request.
MAX_FORMULA = 5000

# The elements and attributes latex2mathml emits (found by converting a sample of its commands:
# fractions, roots, matrices, arrays, accents, fonts, colours, boxes, spaces), and nothing else: no
# href (\href), no xlink, no style. Colours stay: presentational attributes whose values name no URL.
MATH_ATTRIBUTES: dict[str, set[str]] = {
    "math": {"display"},
    "mrow": set(),
    "mi": {"mathvariant"},
    "mn": {"mathvariant"},
    "mo": {
        "accent",
        "mathvariant",
        "fence",
        "form",
        "largeop",
        "maxsize",
        "minsize",
        "movablelimits",
        "separator",
        "stretchy",
    },
    "mtext": {"mathvariant"},
    "mspace": {"depth", "height", "mathbackground", "width"},
    "mstyle": {"displaystyle", "mathcolor", "scriptlevel"},
    "mfrac": {"linethickness"},
    "msqrt": set(),
    "mroot": set(),
    "msub": set(),
    "msup": set(),
    "msubsup": set(),
    "mover": {"accent"},
    "munder": {"accentunder"},
    "munderover": set(),
    "mtable": {"columnlines", "columnspacing", "displaystyle", "rowlines", "rowspacing"},
    "mtr": set(),
    "mtd": {"columnalign"},
    "menclose": {"notation"},
    "mpadded": {"height", "lspace", "mathbackground", "voffset", "width"},
    "mphantom": set(),
}
MATH_TAGS = frozenset(MATH_ATTRIBUTES)


def _tidy(element: Element) -> None:
    """Character references back to characters (tostring escapes what must be), unknown attributes off."""
    allowed = MATH_ATTRIBUTES.get(element.tag, set())
    for name in [n for n in element.attrib if n not in allowed and n != "xmlns"]:
        del element.attrib[name]
    if element.text:
        element.text = html.unescape(element.text)
    if element.tail:
        element.tail = html.unescape(element.tail)
    for child in element:
        _tidy(child)


def _source(latex: str, display: bool) -> str:
    """A formula that cannot be converted: its source, escaped, marked so that it can be styled."""
    block = " math-error-display" if display else ""
    return f'<code class="math-error{block}">{html.escape(latex)}</code>'


def to_mathml(latex: str, *, display: bool) -> str:
    """`latex` as a <math> element. A display one is wrapped in a span styled as a block that scrolls
    sideways when wide: a span, because `$$...$$` may sit inside a paragraph."""
    latex = latex.strip()
    if not latex or len(latex) > MAX_FORMULA:
        return _source(latex, display)
    try:
        root = convert_to_element(latex, display="block" if display else "inline")
    # latex2mathml's parser raises its own errors for bad LaTeX, and plain IndexError, KeyError or
    # RecursionError on some malformed input: any of them means "show the source", never a failed page.
    except Exception:
        return _source(latex, display)
    _tidy(root)
    root.attrib.pop("xmlns", None)  # an HTML parser puts <math> in the MathML namespace by itself
    mathml = tostring(root, encoding="unicode", short_empty_elements=False)
    return f'<span class="math-display">{mathml}</span>' if display else mathml


def _inline_brackets(state: StateInline, silent: bool) -> bool:
    """`\\(...\\)` on one line of a paragraph: inline math (the same token dollarmath makes)."""
    if not state.src.startswith("\\(", state.pos):
        return False
    end = state.src.find("\\)", state.pos + 2)
    if end < 0 or "\n" in state.src[state.pos : end] or end == state.pos + 2:
        return False  # unclosed, or across lines: CommonMark's escape makes it a plain "("
    if not silent:
        token = state.push("math_inline", "math", 0)
        token.content, token.markup = state.src[state.pos + 2 : end], "\\("
    state.pos = end + 2
    return True


def _block_brackets(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """`\\[` at the start of a line to a `\\]` that ends a line: display math. Anything else (a
    reference such as `\\[1\\] Smith et al.`, a blank line before the close) stays prose."""
    if state.sCount[start] - state.blkIndent >= 4:
        return False  # indented code
    first = state.bMarks[start] + state.tShift[start]
    if not state.src.startswith("\\[", first):
        return False
    lines: list[str] = []  # each line's own text: inside a quote or a list, without its markers
    for line in range(start, end):
        begin = first + 2 if line == start else state.bMarks[line] + state.tShift[line]
        text = state.src[begin : state.eMarks[line]].rstrip()
        if line > start and not text:
            return False
        lines.append(text)
        if text.endswith("\\]") and (line > start or len(text) > 2):
            if not silent:
                token = state.push("math_block", "math", 0)
                token.block, token.markup = True, "\\["
                token.content = "\n".join(lines)[:-2]
                token.map = [start, line + 1]
            state.line = line + 1
            return True
    return False


def latex_brackets_plugin(md: MarkdownIt) -> None:
    """LaTeX's own delimiters next to the dollars: before CommonMark's escape, which would eat the
    backslash; an escaped backslash (`\\\\(`) is left to it."""
    md.inline.ruler.before("escape", "math_inline_brackets", _inline_brackets)
    md.block.ruler.before("fence", "math_block_brackets", _block_brackets, {"alt": ["paragraph", "blockquote"]})
