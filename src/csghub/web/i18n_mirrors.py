"""The Chinese of the mirroring pages (web/mirror_*.py and their templates): the admin's sources, tasks
and mirrors, "New mirror", and a mirrored repository's panel. Words other pages already translate
(Name, Type, State, Delete...) stay in i18n.py's table."""

from __future__ import annotations

ZH_MIRRORS: dict[str, str] = {
    # Admin navigation
    "Mirrors": "镜像",
    "All mirrors": "全部镜像",
    "Sync tasks": "同步任务",
    "Sync task": "同步任务",
    "All sync tasks": "全部同步任务",
    "This task has not printed anything yet.": "此任务尚无输出。",
    "Sources": "镜像源",
    # Task states (services/mirrors/tasks) and triggers
    "History synced": "历史已同步",
    "Fetching LFS objects": "正在获取 LFS 对象",
    "create": "创建",
    "manual": "手动",
    "schedule": "定时",
    "batch": "批量",
    "proxy": "代理缓存",
    "retry": "重试",
    "files": "个文件",
    "next attempt": "下次尝试",
    # Sources
    "Source": "镜像源",
    "Base URL": "基础地址",
    "Token": "令牌",
    "set": "已设置",
    "not set": "未设置",
    "Git": "Git",
    "Pull-through cache": "拉取缓存",
    "Yes": "是",
    "No": "否",
    "On": "开启",
    "Delete this source?": "删除此镜像源？",
    "No sources yet: add the hub to copy from below.": "还没有镜像源：在下方添加要复制的平台。",
    "Add a source": "添加镜像源",
    "Edit source": "编辑镜像源",
    "The Hugging Face-compatible API of the hub to copy from. Private and loopback addresses are refused "
    "unless the administrator allows them (outbound_allow_hosts).": (
        "要复制的平台的 Hugging Face 兼容 API 地址。"
        "私有地址和回环地址会被拒绝，除非管理员允许（outbound_allow_hosts）。"
    ),
    "Write-only: leave empty to keep the stored token.": "只写：留空则保留已保存的令牌。",
    "Optional: for private or gated upstream repositories.": "可选：用于上游的私有或受限仓库。",
    "Remove the stored token": "删除已保存的令牌",
    "Fetch history with git": "用 git 获取历史",
    "Syncs at once": "同时同步数",
    "Bandwidth (bytes/s, 0: unlimited)": "带宽（字节/秒，0：不限）",
    "Fetch repositories this hub lacks from this source on first request": "首次请求本平台没有的仓库时，从此镜像源获取",
    "Rules, one a line: allow, deny or cache, then a pattern (first match wins)": (
        "规则，每行一条：allow、deny 或 cache，后接匹配模式（先匹配者生效）"
    ),
    "Cache size cap (bytes, 0: none)": "缓存容量上限（字节，0：不限）",
    "Largest object (bytes, 0: any)": "单个对象上限（字节，0：不限）",
    "Save source": "保存镜像源",
    "Add source": "添加镜像源",
    "Source added": "已添加镜像源",
    "Source saved": "已保存镜像源",
    "Source deleted": "已删除镜像源",
    # Tasks and mirrors lists
    "All": "全部",
    "Trigger": "触发方式",
    "Attempts": "尝试次数",
    "Started": "开始于",
    "Retry": "重试",
    "No tasks match.": "没有匹配的任务。",
    "No mirrors yet.": "还没有镜像。",
    "Task cancelled": "任务已取消",
    "Task queued again": "任务已重新排队",
    "Upstream": "上游",
    "Cache": "缓存",
    "Never": "从未",
    # New mirror
    "New mirror": "新建镜像",
    "Copying from another hub?": "要从其他平台复制？",
    "A read-only copy of a repository on another hub, kept in sync on a schedule. Creating it queues its "
    "first sync.": "其他平台上某个仓库的只读副本，按计划保持同步。创建后即排队进行首次同步。",
    "No mirror source is set up yet: a site administrator adds one under Admin → Mirrors → Sources.": (
        "尚未配置镜像源：站点管理员可在 管理 → 镜像 → 镜像源 中添加。"
    ),
    "Upstream repository": "上游仓库",
    "The upstream's name": "上游仓库的名称",
    "Create mirror": "创建镜像",
    "Sync": "同步",
    "Only by hand": "仅手动",
    "Every hour": "每小时",
    "Every 6 hours": "每 6 小时",
    "Every day": "每天",
    "Every week": "每周",
    # A mirrored repository
    "Mirror": "镜像",
    "A read-only mirror of {upstream}: its content changes only when it syncs.": (
        "{upstream} 的只读镜像：其内容仅在同步时变化。"
    ),
    "Last sync": "上次同步",
    "Next sync": "下次同步",
    "Last error": "最近错误",
    "Sync now": "立即同步",
    "Resume": "恢复",
}
