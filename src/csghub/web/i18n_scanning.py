"""The Chinese of upload scanning's badges and notes (web/templates/_scan_badge.html on the file list and
the file page), kept beside i18n.py's table as i18n_mirrors.py is."""

from __future__ import annotations

ZH_SCANNING: dict[str, str] = {
    "Pickle import scan": "Pickle 导入扫描",
    "Safe": "安全",
    "Suspicious imports": "可疑导入",
    "Unsafe": "不安全",
    "Scanning": "扫描中",
    "Scan failed": "扫描失败",
    "innocuous": "无害",
    "suspicious": "可疑",
    "dangerous": "危险",
    "This file imports code that runs when it is loaded with pickle. Do not load it unless you trust its author.": (
        "此文件导入了在用 pickle 加载时会运行的代码。除非信任其作者，否则不要加载它。"
    ),
    "This file imports code the scanner does not know. Check it before loading it with pickle.": (
        "此文件导入了扫描器不认识的代码。用 pickle 加载前请先检查。"
    ),
}
