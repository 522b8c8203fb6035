"""@mentions in markdown: the account names a comment addresses, as its reader sees them.

An `@name` counts where a person would read it as one: not inside code (fenced blocks, indented blocks,
inline code spans), not inside an e-mail address or a URL (`a@b.org`, `https://x/@y`), and only when the
name is a well-formed account name. Whether the account exists is the caller's question (one query for
all the names)."""

from __future__ import annotations

import re

# A comment may name many people; only the first few are notified (a pasted list must not flood inboxes).
MAX_MENTIONS = 20

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INDENTED = re.compile(r"^(?: {4}|\t)")
# An inline code span: a run of backticks, anything, the same run again (CommonMark's rule, simplified).
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
# Before the @: nothing that would make it part of a word, an address or a path.
_MENTION = re.compile(r"(?<![\w.@/+\-`])@([A-Za-z0-9](?:[A-Za-z0-9_.\-]{0,94}[A-Za-z0-9_])?)(?![\w@])")
_NAME = re.compile(r"^(?!.*--)(?!.*\.\.)(?:[A-Za-z0-9][A-Za-z0-9_.\-]{0,94}[A-Za-z0-9_]|[A-Za-z0-9])$")


def _prose(text: str) -> str:
    """`text` with its code blocks dropped (fenced and indented) and inline code spans blanked."""
    kept: list[str] = []
    fence = ""
    previous_blank = True
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            continue
        if opened:
            fence = opened.group(1)
            continue
        # An indented line after a blank one starts a code block (inside a paragraph it continues it).
        if _INDENTED.match(line) and previous_blank:
            continue
        previous_blank = not line.strip()
        kept.append(line)
    return _CODE_SPAN.sub(" ", "\n".join(kept))


def parse_mentions(text: str) -> list[str]:
    """The distinct account names `text` mentions, lower-cased, in order of first mention."""
    found: list[str] = []
    for match in _MENTION.finditer(_prose(text)):
        name = match.group(1).rstrip(".-")  # "@bob." ends a sentence
        key = name.lower()
        if not _NAME.fullmatch(name) or key in found:
            continue
        found.append(key)
        if len(found) >= MAX_MENTIONS:
            break
    return found
