"""The portal's two languages: English and Simplified Chinese, chosen by a cookie, else Accept-Language.

Messages are keyed by their English text, so a missing translation shows English rather than a key.
"""

from __future__ import annotations

LANGUAGES = ("en", "zh")
LANG_COOKIE = "lang"

_ZH: dict[str, str] = {
    "Models": "模型",
    "Datasets": "数据集",
    "Spaces": "应用空间",
    "Codes": "代码",
    "Search models, datasets, spaces and code": "搜索模型、数据集、应用空间和代码",
    "Sign in": "登录",
    "Sign up": "注册",
    "Sign out": "退出",
    "Username or email": "用户名或邮箱",
    "Username": "用户名",
    "Email": "邮箱",
    "Password": "密码",
    "Create account": "创建账号",
    "No account yet?": "还没有账号？",
    "Already have an account?": "已有账号？",
    "Trending": "热门",
    "Recently updated": "最近更新",
    "Most downloads": "下载最多",
    "Most likes": "点赞最多",
    "Sort": "排序",
    "Filter": "筛选",
    "Task": "任务",
    "Library": "框架",
    "License": "许可证",
    "Language": "语言",
    "Owner": "所有者",
    "Apply": "应用",
    "Clear": "清除",
    "Previous": "上一页",
    "Next": "下一页",
    "results": "个结果",
    "result": "个结果",
    "Search": "搜索",
    "No repositories match.": "没有匹配的仓库。",
    "Model card": "模型卡片",
    "Dataset card": "数据集卡片",
    "Files": "文件",
    "Files and versions": "文件和版本",
    "Commits": "提交",
    "History": "历史",
    "Use this model": "使用此模型",
    "Use this dataset": "使用此数据集",
    "Clone with HTTPS": "通过 HTTPS 克隆",
    "Clone with SSH": "通过 SSH 克隆",
    "Copy": "复制",
    "Copied": "已复制",
    "Download": "下载",
    "Raw": "原始文件",
    "Size": "大小",
    "Downloads": "下载量",
    "Likes": "点赞",
    "Updated": "更新于",
    "Private": "私有",
    "Internal": "内部",
    "Gated": "受限访问",
    "Tags": "标签",
    "Base model": "基础模型",
    "This repository has no README yet.": "此仓库还没有 README。",
    "Page not found": "页面未找到",
    "The page you asked for does not exist, or you do not have access to it.": "您请求的页面不存在，或您无权访问。",
    "Something went wrong": "出错了",
    "Back to the home page": "返回首页",
    "Theme": "主题",
    "Light": "浅色",
    "Dark": "深色",
    "Branch": "分支",
    "Trending models": "热门模型",
    "Recently updated datasets": "最近更新的数据集",
    "Recently updated spaces": "最近更新的应用空间",
    "A self-hosted hub for models, datasets and code": "自托管的模型、数据集与代码平台",
    "Invalid username or password": "用户名或密码错误",
}


def choose_language(cookie: str | None, accept_language: str) -> str:
    if cookie in LANGUAGES:
        return str(cookie)
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


def translate(lang: str, text: str) -> str:
    return _ZH.get(text, text) if lang == "zh" else text
