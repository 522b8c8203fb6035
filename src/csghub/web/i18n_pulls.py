"""The Chinese of the pull-request pages (web/pull_pages.py, pull.html) and of the Community tab's
pull-request filter, kept beside i18n.py's table as i18n_mirrors.py is."""

from __future__ import annotations

ZH_PULLS: dict[str, str] = {
    # The Community tab
    "Discussions": "讨论",
    "Pull requests": "拉取请求",
    "Pull request": "拉取请求",
    "No open pull requests.": "没有进行中的拉取请求。",
    "No closed pull requests.": "没有已关闭的拉取请求。",
    "Open one with huggingface_hub: upload_file(..., create_pr=True).": (
        "可用 huggingface_hub 创建：upload_file(..., create_pr=True)。"
    ),
    # Statuses
    "Draft": "草稿",
    "Merged": "已合并",
    # A pull request's page
    "wants to merge": "请求将",
    "into": "合并到",
    "All pull requests": "全部拉取请求",
    "Files changed": "文件变更",
    "This pull request changes no files yet.": "此拉取请求尚未更改任何文件。",
    "No commits yet: push to": "尚无提交：请推送到",
    "changed the title": "修改了标题",
    "closed this pull request": "关闭了此拉取请求",
    "merged this pull request": "合并了此拉取请求",
    "reopened this pull request": "重新打开了此拉取请求",
    "Merged into": "已合并到",
    "This pull request conflicts with": "此拉取请求与以下分支冲突：",
    "A draft: it has no commits yet.": "草稿：尚无提交。",
    "Merge pull request": "合并拉取请求",
    "Close pull request": "关闭拉取请求",
    "Reopen pull request": "重新打开拉取请求",
    # The edit page's option
    "Open a pull request": "创建拉取请求",
    "Open a pull request instead of committing to the branch": "创建拉取请求，而不是直接提交到分支",
    "You may not write to this repository: your change is proposed as a pull request.": (
        "您没有此仓库的写入权限：您的修改将以拉取请求的形式提交。"
    ),
}
