"""Evaluation of a fine-tune, part of the finetune_llamafactory worker (same environment, imports nothing
from csghub): greedy generation with transformers (+ peft for an adapter) on held-out conversations, and
their metrics against the references.

The prompt is the conversation without its last assistant turn, rendered by the tokenizer's chat template
with the generation prompt added; the reference is that last assistant turn. Metrics, over at most
`max_samples` conversations:

    exact_match  0..1    the share of answers equal to their reference, both stripped
    bleu4        0..100  sacrebleu's corpus BLEU (4-grams; tokenize "zh" when a reference holds CJK)
    rouge1/2/L   0..100  rouge_score's F1, averaged; tokens are words and single CJK characters
    samples      n       how many conversations were scored
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

Message = dict[str, str]
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_TOKENS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]|[^\W_]+")


def conversations(rows: Sequence[dict[str, Any]], data_format: str) -> list[list[Message]]:
    """Each row of train.json/eval.json as chat messages, ending with the assistant's answer."""
    found: list[list[Message]] = []
    for row in rows:
        if data_format == "sharegpt":
            messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
        else:
            user = row["instruction"] + (f"\n{row['input']}" if row.get("input") else "")
            messages = [{"role": "system", "content": row["system"]}] if row.get("system") else []
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]
        if messages and messages[-1]["role"] == "assistant":
            found.append(messages)
    return found


class _WordsAndCharacters:
    """rouge_score's default tokenizer keeps only [a-z0-9]; this one also keeps each CJK character."""

    def tokenize(self, text: str) -> list[str]:
        return _TOKENS.findall(text.lower())


def score(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float | int]:
    import sacrebleu
    from rouge_score import rouge_scorer

    predictions = [p.strip() for p in predictions]
    references = [r.strip() for r in references]
    n = len(references)
    if n == 0:
        return {"samples": 0}
    chinese = any(CJK.search(r) for r in references)
    bleu = sacrebleu.corpus_bleu(predictions, [references], tokenize="zh" if chinese else "13a")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=_WordsAndCharacters())
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for prediction, reference in zip(predictions, references, strict=True):
        for name, value in scorer.score(reference, prediction).items():
            totals[name] += value.fmeasure
    return {
        "exact_match": round(sum(p == r for p, r in zip(predictions, references, strict=True)) / n, 4),
        "bleu4": round(bleu.score, 2),
        **{name: round(100 * total / n, 2) for name, total in totals.items()},
        "samples": n,
    }


def load_model(base: Path, *, adapter: Path | None = None) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    return model.to("cuda" if torch.cuda.is_available() else "cpu").eval()


def generate(model: Any, tokenizer: Any, chats: Sequence[list[Message]], *, max_new_tokens: int) -> list[str]:
    """Greedy answers to each conversation's last user turn, one at a time (no padding effects)."""
    import torch

    stops = {tokenizer.eos_token_id}
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        stops.add(im_end)
    stop_ids = sorted(s for s in stops if s is not None)
    answers = []
    for messages in chats:
        prompt = prompt_of(tokenizer, messages[:-1])
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").to(model.device)
        with torch.no_grad():
            out = model.generate(
                **ids,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=stop_ids or None,
                pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0],
            )
        answers.append(tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True).strip())
    return answers


def prompt_of(tokenizer: Any, messages: list[Message]) -> str:
    if getattr(tokenizer, "chat_template", None):
        return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    return "".join(m["content"] + "\n" for m in messages)  # a tokenizer without a template


def evaluate(
    model: Any, tokenizer: Any, chats: Sequence[list[Message]], *, max_new_tokens: int, say: Any
) -> dict[str, float | int]:
    started = time.monotonic()
    predictions = generate(model, tokenizer, chats, max_new_tokens=max_new_tokens)
    metrics = score(predictions, [messages[-1]["content"] for messages in chats])
    for messages, prediction in list(zip(chats, predictions, strict=True))[:3]:
        say(f"  {messages[-2]['content'][:60]!r} -> {prediction[:80]!r}")
    say(f"  {metrics} in {time.monotonic() - started:.1f} s")
    return metrics
