"""Chinese for what the server answers: the messages of HubErrors (fixed text, or text with values in
it) and, for any message without a translation, a sentence for its error code.

Services raise English messages (the API's contract with huggingface_hub); the portal translates them
where it shows them: error pages, form errors, and the JSON its scripts read. A message template names
its values in braces; the values themselves (names, paths) are shown as they are.
"""

from __future__ import annotations

import re

# English template -> Chinese template; the same names in braces on both sides.
ZH_MESSAGES: dict[str, str] = {
    # Files, uploads and commits
    "Choose or drop at least one file": "请选择或拖入至少一个文件",
    "Sign in to change files": "请先登录再修改文件",
    "Binary files cannot be edited in the browser": "二进制文件无法在浏览器中编辑",
    "Only text files under 512 kB that are not in LFS can be edited in the browser": (
        "只有小于 512 kB 且不在 LFS 中的文本文件可以在浏览器中编辑"
    ),
    "'{path}' is a folder": "“{path}”是一个目录",
    "'{path}' is a folder, not a file": "“{path}”是一个目录，不是文件",
    "Invalid path '{path}': contains a forbidden character": "无效的路径“{path}”：包含不允许的字符",
    "Invalid path '{path}': must be a non-empty relative path": "无效的路径“{path}”：必须是非空的相对路径",
    "Invalid path '{path}': must be relative, not absolute": "无效的路径“{path}”：必须是相对路径，而不是绝对路径",
    "Invalid path '{path}': empty, '.' or '..' components are not allowed": (
        "无效的路径“{path}”：不允许空的、“.”或“..”路径片段"
    ),
    "Invalid rev id: {rev}": "无效的版本：{rev}",
    "Branch '{name}' already exists": "分支“{name}”已存在",
    "Tag '{name}' already exists": "标签“{name}”已存在",
    "Cannot delete the default branch '{name}'": "不能删除默认分支“{name}”",
    "Deleting the default branch '{name}' is not allowed": "不允许删除默认分支“{name}”",
    "A commit needs a non-empty summary": "提交说明不能为空",
    "A commit needs at least one operation": "提交至少需要一项更改",
    "A commit may name each path only once": "一次提交中每个路径只能出现一次",
    "The connection broke during the upload": "上传过程中连接中断",
    "{method} failed with status {status}": "{method} 请求失败，状态码 {status}",
    # Repositories and names
    "Invalid {what} '{value}': use 1-96 letters, digits, '-', '_' or '.', starting with a letter or digit, "
    "without '--' or '..' and not ending with '.git'": (
        "无效的名称“{value}”：请使用 1-96 个字母、数字、“-”、“_”或“.”，以字母或数字开头，"
        "不含“--”或“..”，且不以“.git”结尾"
    ),
    "Invalid namespace '{value}': the name is reserved": "无效的命名空间“{value}”：该名称已被保留",
    # Inference endpoints
    "Invalid endpoint name '{name}': use 1-64 letters, digits, '-' or '_', starting with a letter or digit": (
        "无效的端点名称“{name}”：请使用 1-64 个字母、数字、“-”或“_”，以字母或数字开头"
    ),
    "Invalid replicas: need 1 <= min_replicas <= max_replicas <= {most} (got {low} and {high})": (
        "无效的副本数：需要 1 ≤ 最小副本数 ≤ 最大副本数 ≤ {most}（收到 {low} 和 {high}）"
    ),
    "You already have an endpoint named '{name}'": "您已经有一个名为“{name}”的端点",
    "An endpoint named '{name}' already exists": "名为“{name}”的端点已存在",
    "Invalid engine argument '{key}': write one key=value a line": "无效的引擎参数“{key}”：每行写一个 key=value",
    "Invalid engine argument '{key}': use a flag name like 'dtype' (not host, port, device)": (
        "无效的引擎参数“{key}”：请使用 dtype 这样的参数名（不能是 host、port、device）"
    ),
    "You already created this {kind} repo: {repo}": "您已经创建过此仓库：{repo}",
    "A {kind} named {target} already exists": "名为 {target} 的仓库已存在",
    "Namespace '{name}' does not exist": "命名空间“{name}”不存在",
    "Organization '{name}' does not exist": "组织“{name}”不存在",
    "User '{name}' does not exist": "用户“{name}”不存在",
    "'{name}' does not exist": "“{name}”不存在",
    "Repository not found: {repo}. If the repo is private, make sure you are authenticated.": (
        "仓库不存在：{repo}。如果它是私有仓库，请确认您已登录。"
    ),
    "Access to {repo} is restricted: you must have access to it and be authenticated to access it. "
    "Please request access on its page.": "{repo} 受限访问：您需要登录并获得访问权限。请在其页面申请访问。",
    "Request access to this repository to download its files.": "申请访问此仓库后才能下载其文件。",
    "Authentication required to {action} {repo}": "需要登录才能{action} {repo}",
    "Authentication required to {action} in '{name}'": "需要登录才能在“{name}”中{action}",
    "You are not allowed to {action} {repo}": "您无权{action} {repo}",
    "You are not allowed to {action} in namespace '{name}'": "您无权在命名空间“{name}”中{action}",
    "Your token does not allow you to {action} {repo}": "您的令牌不允许{action} {repo}",
    "Your token is read-only; a write token is needed to {action} {repo}": (
        "您的令牌是只读的；需要可写令牌才能{action} {repo}"
    ),
    "Only site administrators may do this": "只有站点管理员可以执行此操作",
    "Invalid visibility '{value}': expected public, internal or private": "无效的可见性“{value}”：应为公开、内部或私有",
    "Invalid visibility '{value}': expected public or private": "无效的可见性“{value}”：应为公开或私有",
    "Enter the username of the collaborator": "请输入协作者的用户名",
    "'{name}' is not a collaborator of {repo}": "“{name}”不是 {repo} 的协作者",
    "'{name}' has not requested access to {repo}": "“{name}”没有申请访问 {repo}",
    # Accounts, sign-in and tokens
    "The name '{name}' is already taken by a user or organization": "名称“{name}”已被用户或组织占用",
    "The email address '{email}' is already used by another account": "邮箱地址“{email}”已被其他账号使用",
    "Invalid email address '{email}'": "无效的邮箱地址“{email}”",
    "An email address is required": "请填写邮箱地址",
    "Password is too short: use at least {count} characters": "密码太短：请至少使用 {count} 个字符",
    "Password is too long: use at most {count} characters": "密码太长：最多使用 {count} 个字符",
    "Password is too easy to guess: choose a less common one": "密码太容易被猜到：请换一个不常见的密码",
    "Password must not contain the user name": "密码不能包含用户名",
    "The current password is wrong": "当前密码不正确",
    "This account is disabled": "此账号已被停用",
    "Your session has expired; sign in again": "会话已过期，请重新登录",
    "Missing or wrong CSRF token: send the X-CSRF-Token header": "安全令牌缺失或错误：请刷新页面后重试",
    "Too many failed sign-in attempts for {what}; try again in {wait} seconds": (
        "{what} 登录失败次数过多；请在 {wait} 秒后重试"
    ),
    "Registration is closed: ask an administrator to create your account": "注册已关闭：请联系管理员为您创建账号",
    "Registration needs a valid invitation code from an administrator": "注册需要管理员提供的有效邀请码",
    "Invalid or used setup token": "设置链接无效或已被使用",
    "The first administrator already exists": "第一位管理员已经存在",
    "A token needs a name of 1 to 100 characters": "令牌名称需要 1 到 100 个字符",
    "Paste one public key in OpenSSH format, like 'ssh-ed25519 AAAA... you@host'": (
        "请粘贴一个 OpenSSH 格式的公钥，例如 'ssh-ed25519 AAAA... you@host'"
    ),
    "The key {fingerprint} is already in use": "密钥 {fingerprint} 已被使用",
    "Key names are at most 100 characters": "密钥名称最多 100 个字符",
    "Sign in to {what}": "请先登录",
    # Organizations, collections and discussions
    "'{name}' is already a member of '{org}'": "“{name}”已经是“{org}”的成员",
    "'{name}' is not a member of '{org}'": "“{name}”不是“{org}”的成员",
    "'{name}' is the last admin of '{org}' and cannot leave it": "“{name}”是“{org}”的最后一位管理员，不能退出",
    "'{name}' is the last admin of '{org}': make someone else admin first": (
        "“{name}”是“{org}”的最后一位管理员：请先将其他人设为管理员"
    ),
    "A collection needs a title with at least one letter or digit": "收藏集标题至少需要一个字母或数字",
    "A collection title must have 1 to 200 characters": "收藏集标题需要 1 到 200 个字符",
    "A collection holds at most {count} repositories": "一个收藏集最多包含 {count} 个仓库",
    "'{owner}' already has a collection named '{name}'": "“{owner}”已有名为“{name}”的收藏集",
    "A discussion title must have 1 to {count} characters": "讨论标题需要 1 到 {count} 个字符",
    "The {what} is empty": "内容不能为空",
    "The {what} is longer than {count} characters": "内容超过了 {count} 个字符",
    "Discussion #{number} is already {status}": "讨论 #{number} 已经是该状态",
    "Only its author can edit a comment": "只有作者可以编辑评论",
    "The hub is holding as many request bodies as it may; retry shortly": "服务器繁忙，请稍后重试",
}

# What an action is called inside a sentence ("you may not {action} ...").
ZH_ACTIONS = {"read": "读取", "write": "写入", "admin": "管理", "download": "下载", "delete": "删除"}

# A sentence for each error code, for messages without a translation of their own.
ZH_CODES: dict[str, str] = {
    "InvalidArgument": "请求无效",
    "Unauthenticated": "需要登录",
    "PermissionDenied": "没有权限",
    "GatedRepo": "此仓库受限访问，请申请访问",
    "NotFound": "未找到",
    "RepoNotFound": "仓库不存在",
    "RevisionNotFound": "版本不存在",
    "EntryNotFound": "文件不存在",
    "Conflict": "操作冲突",
    "TooLarge": "内容过大",
    "RateLimited": "请求过于频繁，请稍后重试",
    "InternalError": "服务器内部错误",
    "ServiceUnavailable": "服务暂时不可用",
    "NameTaken": "名称已被占用",
    "EmailTaken": "邮箱已被使用",
    "WeakPassword": "密码不符合要求",
    "RepoExists": "仓库已存在",
    "CsrfFailed": "安全令牌错误，请刷新页面后重试",
    "SessionExpired": "会话已过期，请重新登录",
    "AccountDisabled": "此账号已被停用",
    "Overloaded": "服务器繁忙，请稍后重试",
}


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    # Even parts are literal text, odd parts the names of values.
    body = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return re.compile(body + r"\Z", re.DOTALL)


def _literal_length(template: str) -> int:
    return len(re.sub(r"\{\w+\}", "", template))


# Compiled once at import: the table is constant. The template with the most fixed text comes first,
# so "... to {action} in '{name}'" is tried before "... to {action} {repo}".
_PATTERNS = tuple(
    (_pattern(english), ZH_MESSAGES[english])
    for english in sorted((e for e in ZH_MESSAGES if "{" in e), key=_literal_length, reverse=True)
)


def _fill(template: str, values: dict[str, str]) -> str:
    values = {**values, "action": ZH_ACTIONS.get(values.get("action", ""), values.get("action", ""))}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def zh_message(message: str, code: str | None = None) -> str | None:
    """The Chinese for a server message; with its code, a sentence for the code followed by the English
    message when the message itself has no translation; None when neither is known."""
    if "{" not in message and message in ZH_MESSAGES:
        return ZH_MESSAGES[message]
    for pattern, chinese in _PATTERNS:
        found = pattern.match(message)
        if found:
            return _fill(chinese, found.groupdict())
    if code in ZH_CODES:
        return f"{ZH_CODES[code]}：{message}"
    return None
