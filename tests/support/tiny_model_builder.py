"""Builds the test models, run by the `transformers` environment's python (the dev venv has no torch):

    python tiny_model_builder.py OUT_DIR [qa]

OUT_DIR/chat: a tiny Llama chat model (byte-level BPE trained here, ChatML template, greedy generation);
OUT_DIR/broken: the same with a config.json that cannot build the model; OUT_DIR/adapter: a LoRA adapter
on the chat model that changes what it says; OUT_DIR/embeddings: a 2-layer BertModel with a trained
WordPiece tokenizer. With `qa` (run by the `llamafactory` environment's python): OUT_DIR/qa only, the
chat model's shape pre-trained on the capitals of finetune_data.py so that fine-tuning can move it.
Seeded, so the same script makes the same weights."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import BertConfig, BertModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SENTENCES = [
    "Hello! How can I help you today?",
    "The capital of France is Paris.",
    "CSGHub stores models, datasets and spaces in git repositories.",
    "A tiny model answers quickly, even on a small CPU.",
    "Endpoints serve models through an OpenAI-compatible API.",
    "What is the weather like in Beijing?",
    "Replicas restart when they crash, with a growing delay.",
    "Write a short poem about the sea and the sky.",
    "One, two, three, four, five, six, seven, eight, nine, ten.",
    "The quick brown fox jumps over the lazy dog.",
    "Tokens per second measure how fast a model writes.",
    "Please summarise this paragraph in one sentence.",
] * 3
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# Pre-training of the qa model: whole-batch AdamW steps at a high rate (measured: see qa_model).
QA_STEPS = 200
QA_LR = 3e-3
QA_BATCH = 16
CARD = (
    "---\nlibrary_name: transformers\npipeline_tag: {tag}\nlicense: apache-2.0\n---\n# {title}\n\nBuilt by the tests.\n"
)


def chat_model(out: Path) -> None:
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(SENTENCES, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHATML
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.generation_config.do_sample = False
    model.generation_config.max_new_tokens = 32
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(CARD.format(tag="text-generation", title="tiny-chat"))


def broken_model(chat: Path, out: Path) -> None:
    """The chat model's files with a config.json its architecture cannot be built from."""
    out.mkdir(parents=True)
    for path in chat.iterdir():
        (out / path.name).write_bytes(path.read_bytes())
    config = json.loads((chat / "config.json").read_text())
    config["num_attention_heads"] = 5  # 64 hidden units cannot be split over 5 heads
    config["num_key_value_heads"] = 5
    (out / "config.json").write_text(json.dumps(config, indent=2))


def adapter(chat: Path, out: Path) -> None:
    """LoRA on the attention projections, initialised at random and scaled up (a fresh LoRA changes
    nothing until trained), so the merged model answers differently from its base."""
    torch.manual_seed(1)
    lora = LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    get_peft_model(LlamaForCausalLM.from_pretrained(chat), lora).save_pretrained(out)
    (out / "README.md").write_text(
        "---\nlibrary_name: peft\npipeline_tag: text-generation\n---\n# tiny-chat-lora\n\nBuilt by the tests.\n"
    )


def embedding_model(out: Path) -> None:
    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wordpiece.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    wordpiece.train_from_iterator(SENTENCES, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=wordpiece,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(CARD.format(tag="feature-extraction", title="tiny-embeddings"))


def qa_model(out: Path, *, steps: int = QA_STEPS) -> None:
    """A tiny Llama whose tokenizer knows the capitals' sentences, pre-trained (all parameters, whole
    16 lines a step) on plain "Q: ... A: ..." lines of the fine-tuning capitals and 20 others. It then
    knows the facts but not the ChatML turns a fine-tune teaches it: asked in ChatML it answers nothing
    right, and LoRA has representations to move."""
    # Run as a script from tests/support: its sibling is importable by its plain name.
    from finetune_data import CAPITALS, FILLER, OTHER_CAPITALS, plain_lines

    lines = plain_lines(CAPITALS + OTHER_CAPITALS) + list(FILLER)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(lines * 3, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", additional_special_tokens=specials[1:]
    )
    tokenizer.chat_template = CHATML
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    encoded = tokenizer([line + "<|endoftext|>" for line in lines], padding=True, return_tensors="pt")
    labels = encoded["input_ids"].masked_fill(encoded["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=QA_LR)
    started = time.monotonic()
    model.train()
    for step in range(steps):
        rows = torch.randperm(len(lines))[:QA_BATCH]
        batch = {name: tensor[rows] for name, tensor in encoded.items()}
        loss = model(**batch, labels=labels[rows]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step in (0, steps - 1):
            print(f"qa pre-training step {step + 1}/{steps}: loss {loss.item():.3f}", flush=True)
    print(f"qa pre-training: {steps} steps in {time.monotonic() - started:.1f} s", flush=True)
    model.eval()
    model.generation_config.do_sample = False
    model.generation_config.max_new_tokens = 32
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(CARD.format(tag="text-generation", title="tiny-qa"))


def main(out: Path) -> None:
    chat_model(out / "chat")
    broken_model(out / "chat", out / "broken")
    adapter(out / "chat", out / "adapter")
    embedding_model(out / "embeddings")


if __name__ == "__main__":
    if sys.argv[2:] == ["qa"]:
        qa_model(Path(sys.argv[1]) / "qa")
    else:
        main(Path(sys.argv[1]))
