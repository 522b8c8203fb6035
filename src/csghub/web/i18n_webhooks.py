"""The Chinese of the webhook pages (web/webhook_pages.py, webhooks.html, webhook.html). Words other
pages already translate (URL, Events, Edit, Save, Delete, Enable, Disable...) stay in their tables."""

from __future__ import annotations

ZH_WEBHOOKS: dict[str, str] = {
    "Webhooks": "Webhooks",
    "Webhook": "Webhook",
    "A webhook sends an HTTP POST to your URL when a watched repository or namespace changes, in the Hugging "
    "Face format, with your secret in the X-Webhook-Secret header.": (
        "当关注的仓库或命名空间发生变化时，Webhook 会以 Hugging Face 的格式向你的地址发送 HTTP POST 请求，"
        "并在 X-Webhook-Secret 请求头中带上你的密钥。"
    ),
    "Watched": "关注对象",
    "Enabled": "已启用",
    "No webhooks yet.": "还没有 Webhook。",
    "Add a webhook": "添加 Webhook",
    "Add webhook": "添加 Webhook",
    "Watched (one type:name a line: user, org, model, dataset or space)": (
        "关注对象（每行一个 类型:名称，类型为 user、org、model、dataset 或 space）"
    ),
    "repo": "仓库",
    "discussion": "讨论",
    "Secret (optional)": "密钥（可选）",
    "Secret": "密钥",
    "leave empty to keep it": "留空则保持不变",
    "Remove the secret": "删除密钥",
    "Deliveries": "投递记录",
    "Event": "事件",
    "Answer": "响应",
    "Time": "时间",
    "again": "重新投递",
    "pending": "等待中",
    "sending": "发送中",
    "delivered": "已送达",
    "failed": "失败",
    "skipped": "已跳过",
    "Redeliver": "重新投递",
    "Request and answer": "请求与响应",
    "No deliveries yet.": "还没有投递记录。",
    "Webhook created": "Webhook 已创建",
    "Webhook saved": "Webhook 已保存",
    "Webhook enabled": "Webhook 已启用",
    "Webhook disabled": "Webhook 已停用",
    "Webhook deleted": "Webhook 已删除",
    "Delivery queued again": "已重新排队投递",
}
