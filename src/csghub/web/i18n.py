"""The portal's two languages: English and Simplified Chinese, chosen by a cookie, else Accept-Language.

Messages are keyed by their English text, so a missing translation shows English rather than a key.
"""

from __future__ import annotations

from csghub.web.i18n_chat import ZH_CHAT
from csghub.web.i18n_errors import ZH_ACTIONS, ZH_CODES, ZH_MESSAGES, zh_message
from csghub.web.i18n_files import ZH_FILES
from csghub.web.i18n_finetune import ZH_FINETUNE
from csghub.web.i18n_metadata import ZH_METADATA
from csghub.web.i18n_mirrors import ZH_MIRRORS
from csghub.web.i18n_people import ZH_PEOPLE
from csghub.web.i18n_pulls import ZH_PULLS
from csghub.web.i18n_scanning import ZH_SCANNING
from csghub.web.i18n_search import ZH_SEARCH
from csghub.web.i18n_spaces import ZH_SPACES
from csghub.web.i18n_webhooks import ZH_WEBHOOKS

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
    "Add a README.md to say what this repository holds and how to use it; its front matter sets license and tags.": (
        "添加 README.md，说明此仓库包含什么、如何使用；其头信息设置许可证和标签。"
    ),
    "Add a README": "添加 README",
    "Nothing here yet": "这里还什么都没有",
    "No public repositories yet. Sign in to see what is shared with you, or sign up to publish your own.": (
        "此平台还没有公开的仓库。登录以查看与您共享的内容，或注册以发布您自己的仓库。"
    ),
    "Create your first repository in the portal, then drag files onto it:": (
        "在门户中创建您的第一个仓库，然后把文件拖到上面："
    ),
    "Or push from Python with huggingface_hub, using a token from your settings:": (
        "或者在 Python 中用 huggingface_hub 推送，使用设置中的访问令牌："
    ),
    "Page not found": "页面未找到",
    "The page you asked for does not exist, or you do not have access to it.": "您请求的页面不存在，或您无权访问。",
    "Something went wrong": "出错了",
    "Back to the home page": "返回首页",
    "Theme": "主题",
    "Light": "浅色",
    "Dark": "深色",
    "Branch": "分支",
    "Trending models": "热门模型",
    "Recently updated models": "最近更新的模型",
    "Recently updated datasets": "最近更新的数据集",
    "Recently updated spaces": "最近更新的应用空间",
    "A self-hosted hub for models, datasets and code": "自托管的模型、数据集与代码平台",
    "Invalid username or password": "用户名或密码错误",
    "Create the administrator": "创建管理员",
    "This page works once, with the link the hub printed when it started.": (
        "此页面只能使用一次，需使用平台启动时打印的链接。"
    ),
    "New": "新建",
    "Upload files": "上传文件",
    "Add file": "添加文件",
    "Edit": "编辑",
    "edited": "已编辑",
    "Delete": "删除",
    "Delete this file?": "删除此文件？",
    "Drag files or folders here, or": "将文件或文件夹拖到此处，或",
    "browse": "选择文件",
    "Folder in the repository": "仓库中的目录",
    "(top level)": "（根目录）",
    "Commit message": "提交说明",
    "Extended description": "详细描述",
    "Commit to a new branch (optional)": "提交到新分支（可选）",
    "Commit changes": "提交更改",
    "File path": "文件路径",
    "Show more files": "显示更多文件",
    "New repository": "新建仓库",
    "Create repository": "创建仓库",
    "Type": "类型",
    "Model": "模型",
    "Dataset": "数据集",
    "Space": "应用空间",
    "Code": "代码",
    "Name": "名称",
    "Visibility": "可见性",
    "Public": "公开",
    "Anyone can see and download it.": "任何人都可以查看和下载。",
    "Everyone signed in to this hub can see it.": "登录本平台的所有人都可以查看。",
    "Only you, your organization and collaborators.": "仅您、您的组织和协作者可见。",
    "Settings": "设置",
    "Access tokens": "访问令牌",
    "Copy your new token now: it will not be shown again.": "请立即复制新令牌：它不会再次显示。",
    "Scope": "权限范围",
    "Last used": "最近使用",
    "Expires": "过期时间",
    "Expires in days": "有效天数",
    "Revoke": "吊销",
    "Revoked": "已吊销",
    "Create token": "创建令牌",
    "SSH keys": "SSH 密钥",
    "Public key": "公钥",
    "Add SSH key": "添加 SSH 密钥",
    "Remove": "删除",
    "Current password": "当前密码",
    "New password": "新密码",
    "Change password": "修改密码",
    "Token revoked": "令牌已吊销",
    "SSH key removed": "SSH 密钥已删除",
    "Password changed": "密码已修改",
    # People, organizations and site administration
    "Organization": "组织",
    "User": "用户",
    "Joined": "加入于",
    "Organizations": "组织",
    "Members": "成员",
    "Not a member of any organization.": "尚未加入任何组织。",
    "Nothing here yet.": "这里还什么都没有。",
    "Organization settings": "组织设置",
    "New organization": "新建组织",
    "Create organization": "创建组织",
    "Create an organization": "创建组织",
    "Working with others?": "与他人协作？",
    "Full name": "全名",
    "An organization shares models, datasets, spaces and code among its members; you will be its first admin.": (
        "组织让成员共享模型、数据集、应用空间和代码；您将成为它的第一位管理员。"
    ),
    "Profile": "资料",
    "Save": "保存",
    "Profile saved": "资料已保存",
    "Role": "角色",
    "Change role": "修改角色",
    "Role changed": "角色已修改",
    "Member removed": "成员已移除",
    "Leave": "退出",
    "you": "您",
    "An organization always keeps at least one admin.": "组织必须始终保留至少一位管理员。",
    "Invitations": "邀请",
    "Invited by": "邀请人",
    "Sent": "发送于",
    "Cancel": "取消",
    "Invite": "邀请",
    "No pending invitations.": "没有待处理的邀请。",
    "Invitation sent": "邀请已发送",
    "Invitation cancelled": "邀请已取消",
    "Recent activity": "最近动态",
    "Nothing yet.": "暂无记录。",
    "Pending invitations": "待处理的邀请",
    "You are invited to join": "您被邀请加入",
    "as": "，角色为",
    "by": "邀请人：",
    "Accept": "接受",
    "Decline": "拒绝",
    "Invitation accepted": "已接受邀请",
    "Invitation declined": "已拒绝邀请",
    "You left the organization": "您已退出该组织",
    "read": "只读",
    "write": "可写",
    "admin": "管理员",
    "Admin": "管理",
    "Site administration": "站点管理",
    "System status": "系统状态",
    "Users": "用户",
    "Repositories": "仓库",
    "Repository": "仓库",
    "Audit log": "审计日志",
    "Hub": "平台",
    "Version": "版本",
    "Database": "数据库",
    "Storage": "存储",
    "Data directory": "数据目录",
    "Disk": "磁盘",
    "Used": "已用",
    "Free": "可用",
    "Total": "总计",
    "Accounts": "账号",
    "Administrators": "管理员",
    "Disabled": "已停用",
    "Active": "正常",
    "LFS objects": "LFS 对象",
    "Sign-in": "登录方式",
    "Status": "状态",
    "Actions": "操作",
    "Disable": "停用",
    "Enable": "启用",
    "Make admin": "设为管理员",
    "Remove admin": "取消管理员",
    "Reset password": "重置密码",
    "No users match.": "没有匹配的用户。",
    "Account disabled": "账号已停用",
    "Account enabled": "账号已启用",
    "Administrator rights granted": "已授予管理员权限",
    "Administrator rights removed": "已取消管理员权限",
    "Password reset": "密码已重置",
    "Created": "创建于",
    "No organizations match.": "没有匹配的组织。",
    "Action": "操作",
    "All actions": "全部操作",
    "When": "时间",
    "Who": "操作者",
    "Namespace": "命名空间",
    "Target": "对象",
    "Details": "详情",
    "Address": "地址",
    "No events.": "没有事件。",
    "Newest": "最新",
    "Older": "更早",
    # Repository settings, branches and a commit's diff
    "Branches": "分支",
    "Default": "默认",
    "Delete this branch?": "删除此分支？",
    "New branch": "新分支",
    "From (branch, tag or commit)": "起点（分支、标签或提交）",
    "Create branch": "创建分支",
    "No tags yet.": "还没有标签。",
    "Commit": "提交",
    "committed": "提交于",
    "Parent": "父提交",
    "The first commit of this repository.": "这是此仓库的第一个提交。",
    "Browse files at this commit": "浏览此提交时的文件",
    "changed files": "个文件已更改",
    "1 changed file": "1 个文件已更改",
    "Added": "新增",
    "Deleted": "删除",
    "Modified": "修改",
    "Renamed": "重命名",
    "Changed": "变更",
    "Binary file not shown.": "二进制文件，不显示内容。",
    "Stored in LFS: the contents are not shown.": "存储于 LFS：不显示内容。",
    "File too large to show its changes.": "文件过大，不显示更改。",
    "Changes not shown: this commit changes too many lines.": "未显示更改：此提交更改的行数过多。",
    "Request access to this repository to see the changed lines.": "申请访问此仓库后才能查看更改的行。",
    "Request access to this repository to see the contents of its files.": "申请访问此仓库后才能查看其文件内容。",
    "This file is stored in LFS; download it to look inside.": "此文件存储于 LFS；请下载后查看。",
    "Binary file: download it to look inside.": "二进制文件：请下载后查看。",
    "This file is too large to show; download it.": "此文件过大，无法显示；请下载。",
    "No changes to the contents.": "内容没有更改。",
    "This commit changes no files.": "此提交没有更改任何文件。",
    "Save visibility": "保存可见性",
    "Access requests": "访问申请",
    "A gated repository is listed and its card is shown, but its files go only to people whose request is accepted.": (
        "受限访问的仓库会被列出并显示卡片，但只有申请被接受的人才能获取其文件。"
    ),
    "Gating": "访问限制",
    "Off": "关闭",
    "Automatic approval": "自动批准",
    "Manual approval": "人工审批",
    "Save gating": "保存访问限制",
    "Pending": "待处理",
    "Accepted": "已接受",
    "Rejected": "已拒绝",
    "Requested": "申请时间",
    "Reject": "拒绝",
    "Collaborators": "协作者",
    "Read": "读取",
    "Write": "写入",
    "Remove this collaborator?": "移除此协作者？",
    "No collaborators yet.": "还没有协作者。",
    "Add collaborator": "添加协作者",
    "Rename or move": "重命名或移动",
    "Links and clones that use the old name stop working.": "使用旧名称的链接和克隆将失效。",
    "New name (owner/name)": "新名称（所有者/名称）",
    "Rename": "重命名",
    "Delete this repository": "删除此仓库",
    "This deletes its files, history, branches and settings for good.": "这将永久删除其文件、历史、分支和设置。",
    "Type the full name of the repository to confirm:": "请输入仓库的完整名称以确认：",
    "Visibility saved": "可见性已保存",
    "Access requests saved": "访问限制已保存",
    "Request accepted": "申请已接受",
    "Request rejected": "申请已拒绝",
    "Request reset": "申请已重置",
    "Collaborator saved": "协作者已保存",
    "Collaborator removed": "协作者已移除",
    "Repository renamed": "仓库已重命名",
    "Gated repository": "受限访问仓库",
    "Sign in to request access to its files.": "登录后即可申请访问其文件。",
    "Your request is pending: an administrator of this repository will review it.": (
        "您的申请正在等待处理：此仓库的管理员将进行审核。"
    ),
    "Your request for access was declined.": "您的访问申请被拒绝。",
    "Its files are shared with people whose access request is accepted.": "其文件仅向访问申请被接受的人开放。",
    "Request access": "申请访问",
    "You have access to the files of this repository.": "您可以访问此仓库的文件。",
    # The dataset viewer tab
    "Dataset viewer": "数据预览",
    "Request access to this repository to see its rows.": "申请访问此仓库后即可查看数据行。",
    "Converting to Parquet": "正在转换为 Parquet",
    "The dataset viewer is converting this dataset; this page updates when it is ready.": (
        "数据预览正在转换此数据集；完成后本页会自动刷新。"
    ),
    "{done} of {total} splits": "已完成 {done} / {total} 个拆分",
    "The conversion failed": "转换失败",
    "The rows below are from the last commit that converted.": "下面的数据行来自上一次转换成功的提交。",
    "No data files to show": "没有可显示的数据文件",
    "This dataset has no data files the viewer can read.": "此数据集没有数据预览能读取的数据文件。",
    "The viewer reads CSV, TSV, JSON, JSON Lines and Parquet files, also compressed as .gz or .zst.": (
        "数据预览可读取 CSV、TSV、JSON、JSON Lines 和 Parquet 文件，以及它们的 .gz 或 .zst 压缩形式。"
    ),
    "Splits come from file and folder names (train, validation, test; data/train-00000-of-00002.parquet) "
    "or from the configs in the README front matter.": (
        "拆分由文件和文件夹名称（train、validation、test；data/train-00000-of-00002.parquet）"
        "或 README 前言中的 configs 决定。"
    ),
    "How to lay out a dataset:": "数据集的文件布局说明：",
    "in the CSGHub documentation": "（见 CSGHub 文档）",
    "Config": "配置",
    "Split": "拆分",
    "{count} rows": "{count} 行",
    "{n} rows": "{n} 行",
    "{count} matching rows of {total}": "{total} 行中有 {count} 行匹配",
    "Show": "显示",
    "Search this split": "搜索此拆分",
    "Histogram": "直方图",
    "length": "长度",
    "distinct values: {n}": "不同值：{n}",
    "null": "空值",
    "Image": "图片",
    "Expand": "展开",
    "Not converted yet": "尚未转换",
    "The dataset viewer has not converted this dataset yet; it does after the next push to its default branch.": (
        "数据预览尚未转换此数据集；向默认分支推送后即会转换。"
    ),
    "Collapse": "收起",
    "(cut)": "（已截断）",
    "No rows match.": "没有匹配的行。",
    "This split has no rows.": "此拆分没有数据行。",
    "Pages": "分页",
    "Go to page": "跳转到页",
    "Go": "跳转",
    "SQL console": "SQL 控制台",
    "Read-only SQL (DuckDB) over the splits of this dataset. Tables:": (
        "对此数据集各拆分执行只读 SQL（DuckDB）。可用的表："
    ),
    "SQL query": "SQL 查询",
    "Run": "运行",
    "Download CSV": "下载 CSV",
    "Download Parquet": "下载 Parquet",
    "truncated: only the first rows are shown; download for all of them": "已截断：只显示前面的行；下载可获得全部结果",
}

# Likes, collections and discussions.
_ZH.update(
    {
        "Like": "点赞",
        "Liked": "已点赞",
        "Sign in to like": "登录后点赞",
        "Community": "社区",
        "Open": "进行中",
        "Closed": "已关闭",
        "New discussion": "新建讨论",
        "No open discussions yet.": "还没有进行中的讨论。",
        "No closed discussions.": "没有已关闭的讨论。",
        "deleted user": "已删除的用户",
        "Title": "标题",
        "Description": "描述",
        "Markdown is supported.": "支持 Markdown。",
        "Open discussion": "发起讨论",
        "All discussions": "全部讨论",
        "closed this discussion": "关闭了此讨论",
        "reopened this discussion": "重新打开了此讨论",
        "Sign in to comment": "登录后评论",
        "Comment": "评论",
        "Close discussion": "关闭讨论",
        "Reopen discussion": "重新打开讨论",
        "Collections": "收藏集",
        "Collection": "收藏集",
        "New collection": "新建收藏集",
        "Create collection": "创建收藏集",
        "My collections": "我的收藏集",
        "No collections yet.": "还没有收藏集。",
        "Anyone can see it; each repository in it stays visible only to those who may read it.": (
            "任何人都可以查看；其中的每个仓库仍只对有权访问的人可见。"
        ),
        "Only you or the members of the organization.": "仅您或该组织的成员可见。",
        "repositories": "个仓库",
        "This collection is empty. Add repositories from their pages.": "此收藏集为空。可在仓库页面将其加入。",
        "Edit collection": "编辑收藏集",
        "Save": "保存",
        "Delete this collection?": "删除此收藏集？",
        "Delete collection": "删除收藏集",
        "Add to collection": "加入收藏集",
        "Note (optional)": "备注（可选）",
        "Add": "添加",
        "Sign in first": "请先登录",
    }
)


# The header's menu and search, name fields, a used setup link (portal layout).
_ZH.update(
    {
        "Menu": "菜单",
        "Search results": "搜索结果",
        "See all": "查看全部",
        "Nothing of this kind matches.": "没有匹配的此类仓库。",
        "Letters, digits, '-', '_' or '.', starting with a letter or digit": (
            "字母、数字、'-'、'_' 或 '.'，以字母或数字开头"
        ),
        "This setup link has been used: the first administrator already exists.": (
            "此设置链接已被使用：第一位管理员已经存在。"
        ),
        "This setup link is not valid. Use the link the hub printed when it last started.": (
            "此设置链接无效。请使用 Hub 最近一次启动时打印的链接。"
        ),
        "Sign in as the administrator": "以管理员身份登录",
    }
)

# Repository types, gates, file metadata and the upload script's own words.
_ZH.update(
    {
        "Space card": "应用空间卡片",
        "Code card": "代码卡片",
        "Use this space": "使用此应用空间",
        "Use this code": "使用此代码",
        "Metadata": "元数据",
        "Request access to this repository to download its files.": "申请访问此仓库后才能下载其文件。",
        "Hashing {path}": "正在计算校验和：{path}",
        "Uploading {path}": "正在上传：{path}",
        "Prepared {path}": "已准备：{path}",
        "Committing": "正在提交",
        "{size} bytes": "{size} 字节",
        "Upload {count} file": "上传 {count} 个文件",
        "Upload {count} files": "上传 {count} 个文件",
        "Create {path}": "新建 {path}",
        "Update {path}": "更新 {path}",
        "Delete {path}": "删除 {path}",
    }
)

# Inference endpoints: Deploy, the creation form, the Summary page, the endpoint list, the resource console.
_ZH.update(
    {
        "Deploy": "部署",
        "Dedicated endpoint": "专属推理端点",
        "New dedicated endpoint": "新建专属推理端点",
        "A dedicated endpoint serves the model with an OpenAI-compatible API at a stable URL of this hub.": (
            "专属推理端点以兼容 OpenAI 的 API，在本平台的固定地址上提供此模型的服务。"
        ),
        "No enabled runtime framework fits this model.": "没有适用于此模型的已启用运行框架。",
        "Endpoint name": "端点名称",
        "Unique among your endpoints: letters, digits, - and _.": "在您的端点中唯一：字母、数字、- 和 _。",
        "Revision": "版本",
        "Region": "区域",
        "local machine": "本机",
        "Resources": "资源",
        "CPU": "CPU",
        "Runtime framework": "运行框架",
        "built on first use": "首次使用时构建",
        "Replicas": "副本数",
        "Replica": "副本",
        "Minimum": "最小",
        "Maximum": "最大",
        "Between 1 and 5.": "1 到 5 之间。",
        "Only you and your organization, with a hub token.": "仅您和您的组织，需使用平台令牌。",
        "Anyone can call it, without a token.": "任何人都可以调用，无需令牌。",
        "Engine arguments (optional)": "引擎参数（可选）",
        "One key=value a line, passed to the engine as --key value.": "每行一个 key=value，以 --key value 传给引擎。",
        "Create endpoint": "创建端点",
        "Save settings": "保存设置",
        "Endpoint settings": "端点设置",
        "Endpoint": "端点",
        "Notebook": "笔记本",
        "Endpoints": "推理端点",
        "Summary": "概览",
        "Playground": "试用",
        "Status": "状态",
        "Pending": "等待中",
        "Building": "构建中",
        "Deploying": "部署中",
        "Running": "运行中",
        "Stopped": "已停止",
        "Failed": "失败",
        "URL": "地址",
        "up to": "最多",
        "Start": "启动",
        "Stop": "停止",
        "Delete this endpoint? Its replicas stop and its URL stops answering.": (
            "删除此端点？其副本将停止，地址也不再响应。"
        ),
        "Metrics": "指标",
        "Requests": "请求数",
        "Errors": "错误数",
        "In flight": "处理中",
        "Latency p50": "延迟 p50",
        "Latency p95": "延迟 p95",
        "Tokens/s": "令牌/秒",
        "Tokens generated": "已生成令牌",
        "Tokens": "令牌数",
        "Events": "事件",
        "No events yet.": "还没有事件。",
        "Call it": "调用方式",
        "Private endpoints need a hub token: create one under Settings → Access tokens and export it as HF_TOKEN.": (
            "私有端点需要平台令牌：在 设置 → 访问令牌 中创建，并设置为环境变量 HF_TOKEN。"
        ),
        "Logs": "日志",
        "No log lines yet.": "还没有日志。",
        "Endpoint created: it starts in a moment": "端点已创建，即将启动",
        "Settings saved": "设置已保存",
        "Endpoint starting": "端点正在启动",
        "Endpoint stopped": "端点已停止",
        "Endpoint deleted": "端点已删除",
        "Dedicated inference endpoints you may call. Deploy one from a model page: Deploy → Dedicated endpoint.": (
            "您可以调用的专属推理端点。在模型页面选择 部署 → 专属推理端点 即可创建。"
        ),
        "No endpoints yet.": "还没有推理端点。",
        "Resource console": "资源控制台",
        "Everything that runs for you on this hub: endpoints now, fine-tunes, notebooks and spaces as they arrive.": (
            "您在本平台上运行的一切：目前是推理端点，今后还有微调、笔记本和应用空间。"
        ),
        "Kind": "类型",
        "Endpoints you may call": "您可以调用的推理端点",
        "Uptime": "运行时长",
        "Nothing runs for you yet. Deploy a model from its page: Deploy → Dedicated endpoint.": (
            "您还没有运行中的资源。在模型页面选择 部署 → 专属推理端点 即可部署。"
        ),
    }
)

_ZH.update(ZH_CHAT)
_ZH.update(ZH_METADATA)
_ZH.update(ZH_FINETUNE)
_ZH.update(ZH_SPACES)
_ZH.update(ZH_MIRRORS)
_ZH.update(ZH_SEARCH)
_ZH.update(ZH_WEBHOOKS)
_ZH.update(ZH_PEOPLE)
_ZH.update(ZH_SCANNING)
_ZH.update(ZH_FILES)
_ZH.update(ZH_PULLS)

# The words upload.js and app.js show while files are sent (English keys; the script fills the braces).
_SCRIPT_KEYS = (
    "Hashing {path}",
    "Uploading {path}",
    "Prepared {path}",
    "Committing",
    "{size} bytes",
    "Upload {count} file",
    "Upload {count} files",
)


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


def translate_format(lang: str, template: str, **values: object) -> str:
    """A message with values in braces, translated before they are filled in."""
    return translate(lang, template).format(**values)


def translate_error(lang: str, message: str, code: str | None = None) -> str:
    """A message the server returned, in the page's language (by its text, else by its error code)."""
    if lang != "zh":
        return message
    return _ZH.get(message) or zh_message(message, code) or message


def script_messages(lang: str) -> dict[str, object]:
    """What the upload script needs to speak the page's language: its own words and the server's messages."""
    words = {key: translate(lang, key) for key in _SCRIPT_KEYS}
    if lang != "zh":
        return {"words": words}
    return {"words": words, "messages": ZH_MESSAGES, "actions": ZH_ACTIONS, "codes": ZH_CODES}
