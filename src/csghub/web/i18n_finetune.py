"""The Chinese of the fine-tuning pages (web/finetune_*pages.py, their templates and static/finetune.js),
kept beside i18n.py's table like the chat's: the parameters' help, states and phases, the notes a run
carries (services/finetune/parameters.py's words) and the pages' own words."""

from __future__ import annotations

ZH_FINETUNE: dict[str, str] = {
    # Navigation and lists
    "Fine-tuning": "微调",
    "Fine-tune": "微调",
    "Experiments": "实验",
    "Instances": "实例",
    "Parameter groups": "参数组",
    "Parameter group": "参数组",
    "Fine-tune instances": "微调实例",
    "New experiment": "新建实验",
    "New parameter group": "新建参数组",
    "New fine-tune instance": "新建微调实例",
    "No experiments yet.": "还没有实验。",
    "No fine-tune instances yet.": "还没有微调实例。",
    "No parameter groups yet.": "还没有参数组。",
    "Tasks": "任务数",
    "Metric": "指标",
    "Last run": "最近一次运行",
    "One or more fine-tune tasks trained with LLaMA-Factory, evaluated before and after, compared by one metric.": (
        "一个或多个由 LLaMA-Factory 训练的微调任务，训练前后各评估一次，按同一指标比较。"
    ),
    "A fine-tune instance belongs to a model: open the model's page and choose Fine-tune to create one.": (
        "微调实例属于某个模型：打开模型页面，点击“微调”即可创建。"
    ),
    "Named training parameters with LLaMA-Factory's names, picked by the tasks of an experiment.": (
        "使用 LLaMA-Factory 参数名的具名训练参数，供实验中的任务选用。"
    ),
    # Forms
    "Lowercase letters, digits and -, beginning and ending with a letter or digit, at most 63 characters.": (
        "小写字母、数字和 -，以字母或数字开头和结尾，最多 63 个字符。"
    ),
    "Unique among your instances. Lowercase letters, digits and -, beginning and ending with a letter or digit, "
    "at most 63 characters.": "在你的实例中唯一。小写字母、数字和 -，以字母或数字开头和结尾，最多 63 个字符。",
    "Leave a field empty for its default.": "留空即使用默认值。",
    "default": "默认",
    "none": "无",
    "More parameters": "更多参数",
    "Create parameter group": "创建参数组",
    "Create experiment": "创建实验",
    "Create instance": "创建实例",
    "Add task": "添加任务",
    "Task name": "任务名称",
    "Evaluation metric": "评估指标",
    "Tasks are ranked by it after training, on the evaluation rows.": "训练后在评估数据上按此指标为任务排名。",
    "Training file": "训练文件",
    "Evaluation file (optional)": "评估文件（可选）",
    "the dataset's only data file": "数据集中唯一的数据文件",
    "none: val_size of the training rows": "无：按 val_size 从训练数据中划出",
    "LLaMA-Factory's defaults": "LLaMA-Factory 默认值",
    "the region's largest tier": "该区域最大的规格",
    "Column mapping (when your columns have other names)": "列映射（当你的列名不同时）",
    "the column holding it": "对应的列名",
    "Instance name": "实例名称",
    "A place to train this model with LLaMA-Factory, start and stop runs, and chat with the result.": (
        "用 LLaMA-Factory 训练此模型的地方：启动、停止训练，并与训练结果对话。"
    ),
    "No enabled fine-tuning runtime framework on this hub.": "本平台没有已启用的微调运行框架。",
    "Also push the merged weights": "同时推送合并后的权重",
    "LLaMA-Factory's names; an empty field is its default. The form speaks the portal's language.": (
        "使用 LLaMA-Factory 的参数名；留空即为默认值。表单语言跟随门户语言。"
    ),
    "Parameters": "参数",
    "Training": "训练",
    "Chat": "对话",
    # A task's progress
    "Phase": "阶段",
    "Step": "步数",
    "Loss": "损失",
    "Learning rate": "学习率",
    "Time left": "剩余时间",
    "Training loss by step": "各步训练损失",
    "Log": "日志",
    "Output model": "输出模型",
    "rows": "行",
    "Queued": "排队中",
    "Succeeded": "已完成",
    "Cancelled": "已取消",
    "Empty": "空",
    "Preparing the data": "准备数据",
    "Training the model": "训练中",
    "Evaluating": "评估中",
    "Pushing the model": "推送模型",
    "Finished": "已结束",
    "Deploying the model…": "正在部署模型…",
    # Results and compare
    "Results": "结果",
    "Before and after training, on the evaluation rows; ranked by the experiment's metric. Scores from 0 to 100.": (
        "训练前与训练后在评估数据上的得分，按实验指标排名。分数范围 0 到 100。"
    ),
    "Exact match": "完全匹配",
    "Compare chat": "对比对话",
    "Column": "列",
    "Deploy the base model": "部署基础模型",
    "No task has finished yet.": "还没有完成的任务。",
    "No task is deployed yet: deploy one from the experiment's page.": "还没有已部署的任务：请在实验页面部署一个。",
    "One prompt to the base model and up to three deployed tasks; their answers stream side by side.": (
        "同一个提示词发送给基础模型和至多三个已部署的任务，它们的回答并排流式显示。"
    ),
    # The instance's chat tab
    "Fine-tuned model": "微调后的模型",
    "Load": "加载",
    "Unload": "卸载",
    "Not loaded": "未加载",
    "Load the base or the fine-tuned model to chat with it.": "加载基础模型或微调后的模型即可与其对话。",
    # Notices after a form
    "Parameter group created": "参数组已创建",
    "Experiment created: its tasks start in a moment": "实验已创建：任务即将开始",
    "Base model deploying: it answers in a moment": "基础模型部署中：稍后即可回答",
    "Fine-tune instance created": "微调实例已创建",
    "Training started": "训练已开始",
    "Training stopped": "训练已停止",
    "Model loading: the chat opens once it runs": "模型加载中：运行后即可对话",
    "Model unloaded": "模型已卸载",
    "Notebook starting: open it once it runs": "笔记本启动中：运行后即可打开",
    "Start Notebook": "启动笔记本",
    # The training data preview
    "Training data preview": "训练数据预览",
    "What a fine-tune reads from this dataset: choose a file (Q&A CSV, Alpaca JSON or JSON Lines, conversations), "
    "and map its columns when their names differ.": (
        "微调会从此数据集读取的内容：选择一个文件（问答 CSV、Alpaca JSON 或 JSON Lines、对话），列名不同时请映射列。"
    ),
    "This dataset has no CSV, TSV, JSON or JSON Lines file to train on.": (
        "此数据集没有可用于训练的 CSV、TSV、JSON 或 JSON Lines 文件。"
    ),
    "Preview": "预览",
    "File": "文件",
    "Format": "格式",
    "Columns": "列",
    "Columns used": "使用的列",
    "not recognized": "无法识别",
    "Q&A": "问答",
    "Alpaca": "Alpaca",
    "Conversations": "对话",
    "Conversation": "对话",
    "Problems: a fine-tune on this file is refused until they are fixed": "问题：修复之前，此文件无法用于微调",
    "No problems: this file can be trained on.": "没有问题：此文件可以用于训练。",
    "New experiment with this file": "用此文件新建实验",
    "The first rows, as the model will see them": "前几行，即模型将看到的样子",
    # The parameters' help (web/finetune_forms.py's HELP)
    "Supervised fine-tuning (the only stage for now)": "监督微调（目前唯一的阶段）",
    "LoRA adapters, all weights, or the last layers only": "LoRA 适配器、全部权重，或仅最后几层",
    "The optimizer's peak learning rate": "优化器的峰值学习率",
    "Passes over the training rows": "遍历训练数据的轮数",
    "At most this many rows per dataset; empty for all": "每个数据集最多使用的行数；留空表示全部",
    "Tokens per example; longer ones are cut": "每个样本的最大 token 数；超出部分截断",
    "Examples per step on each device": "每个设备每步的样本数",
    "Steps whose gradients add up to one update": "累积多少步的梯度做一次更新",
    "How the learning rate moves over the run": "学习率在训练过程中的变化方式",
    "Share of all steps spent warming the learning rate up": "用于学习率预热的步数占比",
    "Warm-up in steps; give this or warmup_ratio, not both": "预热步数；与 warmup_ratio 二选一",
    "Gradient clipping; 0 turns it off": "梯度裁剪；0 表示关闭",
    "The rank of the LoRA matrices": "LoRA 矩阵的秩",
    "LoRA's scale; empty for twice lora_rank": "LoRA 缩放系数；留空为 lora_rank 的两倍",
    "Dropout on the LoRA path": "LoRA 分支上的 dropout",
    "Which modules get LoRA: all, or module names separated by commas": "应用 LoRA 的模块：all，或以逗号分隔的模块名",
    "LoRA+: B matrices learn this many times faster; 0 is plain LoRA": "LoRA+：B 矩阵的学习率倍数；0 为普通 LoRA",
    "Mixed precision; fp16 on a cluster without GPUs runs in fp32, with a note": (
        "混合精度；在没有 GPU 的集群上 fp16 以 fp32 运行，并给出提示"
    ),
    "Seeds the training and the held-out rows": "训练与划出评估数据所用的随机种子",
    "Share of the training rows held out for evaluation": "从训练数据中划出用于评估的比例",
    "A checkpoint every this many steps (a run resumes from the last)": (
        "每隔多少步保存一个检查点（从最后一个恢复训练）"
    ),
    "Step, loss and learning rate reported every this many steps": "每隔多少步报告步数、损失和学习率",
    "How prompts are laid out: auto reads the model's chat template": "提示词的格式：auto 读取模型自带的对话模板",
    # The notes a run carries (services/finetune/parameters.py)
    "Compute type fp16 needs a GPU and this cluster has none: training runs in fp32": (
        "计算类型 fp16 需要 GPU，而此集群没有：训练以 fp32 运行"
    ),
    "Compute type bf16 on a cluster without GPUs: use_cpu is set, as transformers needs for bf16": (
        "在没有 GPU 的集群上使用 bf16：已设置 use_cpu，这是 transformers 在 CPU 上使用 bf16 的要求"
    ),
    "The model has no chat template: LLaMA-Factory's 'default' template is used "
    "(prompts read 'Human: ...' then 'Assistant:')": (
        "模型没有对话模板：使用 LLaMA-Factory 的 'default' 模板（提示词为 'Human: ...' 然后 'Assistant:'）"
    ),
}
