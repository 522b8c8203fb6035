"""The Chinese of the people pages: profile editing (avatar, bio, links), the notifications page and the
header's bell, a user's likes tab and the global collections page. Words other pages already translate
(Profile, Full name, Likes, Trending...) stay in i18n.py's table."""

from __future__ import annotations

ZH_PEOPLE: dict[str, str] = {
    # Profile editing
    "Avatar": "头像",
    "Upload avatar": "上传头像",
    "Remove avatar": "移除头像",
    "Avatar saved": "头像已保存",
    "Avatar removed": "头像已移除",
    "PNG, JPEG, WebP or GIF, at most 1 MiB.": "PNG、JPEG、WebP 或 GIF 图片,最大 1 MiB。",
    "Bio": "个人简介",
    "Markdown is welcome": "支持 Markdown",
    "Homepage": "主页",
    "GitHub": "GitHub",
    "Twitter / X": "Twitter / X",
    "LinkedIn": "领英",
    "Save profile": "保存资料",
    # Likes
    "No likes yet.": "还没有点赞。",
    # Notifications
    "Notifications": "通知",
    "unread": "条未读",
    "Unread": "未读",
    "Mark all as read": "全部标为已读",
    "Mark as read": "标为已读",
    "Mark as unread": "标为未读",
    "Someone": "某人",
    "mentioned you in": "提到了您,在",
    "opened a discussion in": "发起了讨论,在",
    "commented in": "发表了评论,在",
    "closed a discussion in": "关闭了讨论,在",
    "reopened a discussion in": "重新打开了讨论,在",
    "merged a pull request in": "合并了拉取请求,在",
    "changed the status of a discussion in": "更改了讨论状态,在",
    "asked for access to": "申请访问",
    "invited you to join": "邀请您加入",
    "No unread notifications.": "没有未读通知。",
    "No notifications yet. Mentions, discussions on your repositories, access requests and invitations show up here.": (
        "还没有通知。提及、您仓库中的讨论、访问申请和组织邀请都会显示在这里。"
    ),
    # Collections
    "Search collections": "搜索收藏集",
    "No collections match.": "没有匹配的收藏集。",
    "No collections yet. Gather models, datasets and spaces into one from any repository page: Add to collection.": (
        "还没有收藏集。在任意仓库页面选择“添加到收藏集”,即可把模型、数据集和应用空间汇集到一起。"
    ),
}
