"""The Chinese of the file pages' additions (web/file_panels.py and its templates): the latest commit
and commit count, each entry's last commit, per-file history, LFS/Xet details, safetensors parameters
and the downloads chart. Words other pages already translate (History, Parameters...) stay where they are."""

from __future__ import annotations

ZH_FILES: dict[str, str] = {
    # Over the tree, and in it
    "commit": "次提交",
    "commits": "次提交",
    "older": "更早",
    # Per-file history
    "No commits on this page.": "此页没有提交。",
    # A file's storage
    "Stored with Git LFS": "使用 Git LFS 存储",
    "Stored with Xet": "使用 Xet 存储",
    "Xet hash": "Xet 哈希",
    "Pointer size": "指针大小",
    "Size of remote file": "远程文件大小",
    "bytes": "字节",
    # Safetensors
    "tensors": "个张量",
    "Tensor type": "张量类型",
    "This safetensors header is too large to read.": "此 safetensors 文件头过大，无法读取。",
    "This file is not in storage.": "此文件不在存储中。",
    "This safetensors header is unreadable.": "此 safetensors 文件头无法读取。",
    # The card
    "Model size": "模型大小",
    "params": "参数",
    "Some safetensors files could not be read.": "部分 safetensors 文件无法读取。",
    "Downloads last month": "上月下载量",
}
