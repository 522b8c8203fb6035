"""The Chinese of finding things (web/search_pages.py, web/listing_pages.py, the header's quick results
and the first-steps panel of empty pages). Words other pages already translate (Models, Search, Copy,
Task, License...) stay in their tables."""

from __future__ import annotations

ZH_SEARCH: dict[str, str] = {
    # The header's quick results
    "Quick results": "快速结果",
    "People": "用户",
    "No matches": "没有匹配项",
    "See all results": "查看全部结果",
    # The search page
    "Results by type": "按类型的结果",
    "People and organizations": "用户和组织",
    "Try fewer or other words, or browse a listing:": "试试更少或不同的关键词，或浏览列表：",
    "Nothing of yours here yet? Publish it:": "这里还没有你的内容？发布它：",
    # Listings: chips and empty results
    "Clear filters": "清除筛选",
    "Remove a filter, or search for fewer words.": "移除一个筛选条件，或减少搜索关键词。",
    # First steps, wherever nothing is listed yet
    "Three ways to publish your first model:": "发布第一个模型的三种方式：",
    "Create a model": "创建模型",
    "New model": "新建模型",
    "Give it a name; then drag files onto it, or push them with git or huggingface_hub.": (
        "为它命名，然后把文件拖进来，或用 git 或 huggingface_hub 推送。"
    ),
    "Sign in first: repositories belong to an account or an organization.": "请先登录：仓库属于某个账号或组织。",
    "Push with git": "用 git 推送",
    "Clone the new repository, add your files and push. Git asks for your user name and an access token "
    "from your settings.": "克隆新仓库，添加文件后推送。git 会询问你的用户名，以及在设置中创建的访问令牌。",
    "Point huggingface_hub at this hub": "让 huggingface_hub 指向本平台",
    "Set HF_ENDPOINT and the huggingface_hub library, its CLI and transformers use this hub instead of "
    "huggingface.co:": (
        "设置 HF_ENDPOINT 后，huggingface_hub 库、其命令行工具和 transformers 都会使用本平台而不是 huggingface.co："
    ),
}
