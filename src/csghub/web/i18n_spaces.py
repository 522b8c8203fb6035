"""The Chinese of the spaces' pages (web/space_*.py, their templates and static/spaces.js), kept beside
i18n.py's table like the fine-tuning pages': states, the space page, its logs and its settings, and the
notices its forms leave. Words other pages already translate (Running, Logs, Delete...) stay there."""

from __future__ import annotations

ZH_SPACES: dict[str, str] = {
    # States (services/spaces) as badges
    "Sleeping": "休眠中",
    "Paused": "已暂停",
    "Build error": "构建失败",
    "Runtime error": "运行出错",
    "No app": "无应用",
    # Listing and the space page
    "SDK": "SDK",
    "App": "应用",
    "Models used": "使用的模型",
    "Datasets used": "使用的数据集",
    "Open the app in its own tab": "在新标签页中打开应用",
    "See the logs": "查看日志",
    "Space settings": "应用空间设置",
    "This space names no SDK this hub runs, so it has no app. "
    "Set sdk: gradio, streamlit or static in the front matter of its README.md.": (
        "此应用空间没有声明本平台可运行的 SDK，因此没有应用。"
        "请在 README.md 的元数据中设置 sdk: gradio、streamlit 或 static。"
    ),
    # Logs
    "State": "状态",
    "Build log": "构建日志",
    "Run log": "运行日志",
    # Settings
    "Restart": "重启",
    "Factory rebuild": "从头重建",
    "Pause": "暂停",
    "Hardware": "硬件",
    "Cluster and tier": "集群与规格",
    "Save hardware": "保存硬件",
    "Sleep time": "休眠时间",
    "Sleep after this many idle minutes (0: never)": "空闲多少分钟后休眠（0：从不）",
    "Save sleep time": "保存休眠时间",
    "A sleeping space wakes up on its next visit.": "休眠的应用空间会在下次访问时唤醒。",
    "Access to this hub": "访问本平台",
    "Give the app a read token for the models and datasets it declares (HF_TOKEN)": (
        "为应用提供一个只读令牌，用于读取它声明的模型和数据集（HF_TOKEN）"
    ),
    "The app always gets the hub's address as HF_ENDPOINT.": "应用总会通过 HF_ENDPOINT 获得本平台的地址。",
    "Secrets": "密钥",
    "Passed to the app as environment variables, stored encrypted. "
    "A secret's value is never shown again after saving.": (
        "以环境变量的形式传给应用，加密存储。密钥的值保存后不会再显示。"
    ),
    "No secrets yet.": "还没有密钥。",
    "Value": "值",
    "Add or replace secret": "添加或替换密钥",
    "Delete this secret?": "删除此密钥？",
    "Variables": "变量",
    "Passed to the app as environment variables; their values are visible to the space's administrators.": (
        "以环境变量的形式传给应用；其值对应用空间的管理员可见。"
    ),
    "No variables yet.": "还没有变量。",
    "Add or change variable": "添加或修改变量",
    "Delete this variable?": "删除此变量？",
    # Notices the settings forms leave
    "Space restarting": "应用空间正在重启",
    "Space rebuilding from scratch": "应用空间正在从头重建",
    "Space paused": "应用空间已暂停",
    "Space starting": "应用空间正在启动",
    "Hardware saved": "硬件已保存",
    "Sleep time saved": "休眠时间已保存",
    "Token setting saved": "令牌设置已保存",
    "Secret saved": "密钥已保存",
    "Secret deleted": "密钥已删除",
    "Variable saved": "变量已保存",
    "Variable deleted": "变量已删除",
}
