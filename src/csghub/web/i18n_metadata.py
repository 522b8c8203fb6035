"""The Chinese of a dataset's metadata in listings, filters and its page (web/pages.py, list.html,
_repo_card.html), kept beside i18n.py's table as i18n_chat.py is."""

from __future__ import annotations

ZH_METADATA: dict[str, str] = {
    "Subtask": "子任务",
    "Size category": "规模",
    "Rows": "行数",
}
