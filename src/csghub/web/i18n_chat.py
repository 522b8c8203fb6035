"""The Chinese of the Playground, Compare view and try-it panel (web/playground_pages.py, static/chat.js),
kept beside i18n.py's table so that the portal's parts can add their words without touching one block."""

from __future__ import annotations

ZH_CHAT: dict[str, str] = {
    "Compare endpoints": "对比推理端点",
    "Compare with other endpoints": "与其他推理端点对比",
    "One prompt sent to up to three running endpoints; their answers stream side by side.": (
        "同一个提示词发送给至多三个运行中的推理端点，它们的回答并排流式显示。"
    ),
    "No running endpoint you may call yet. Deploy a model from its page first.": (
        "还没有你可以调用的运行中推理端点。请先在模型页面部署一个模型。"
    ),
    "(none)": "（无）",
    "Prompt": "提示词",
    "One prompt for every chosen endpoint": "发给所有选中推理端点的同一个提示词",
    "Send to all": "全部发送",
    "Send": "发送",
    "Message": "消息",
    "Write a message; Enter sends, Shift+Enter starts a new line": "输入消息；回车发送，Shift+回车换行",
    "System prompt": "系统提示词",
    "You are a helpful assistant.": "你是一个乐于助人的助手。",
    "Temperature": "温度",
    "Max tokens": "最大令牌数",
    "Seed": "随机种子",
    "random": "随机",
    "Stop sequences (one per line, up to 4)": "停止序列（每行一个，最多 4 个）",
    "This endpoint is not running right now.": "此推理端点当前未在运行。",
    "This endpoint serves embeddings: the Playground chats with text generation models only.": (
        "此推理端点提供向量嵌入：试用页只能与文本生成模型对话。"
    ),
    "Open its Summary": "查看其概览",
    "Open the Playground": "打开试用页",
    "Try it": "在线试用",
    "Chat with a running endpoint of this model.": "与此模型正在运行的推理端点对话。",
    # static/chat.js
    "You": "你",
    "Assistant": "助手",
    "Thinking…": "思考中…",
    "The connection to the endpoint broke": "与推理端点的连接中断",
    "{count} tokens": "{count} 个令牌",
    "{seconds} s": "{seconds} 秒",
    "{rate} tokens/s": "{rate} 令牌/秒",
    "Choose at least one endpoint": "请至少选择一个推理端点",
    "Write a prompt first": "请先输入提示词",
}
