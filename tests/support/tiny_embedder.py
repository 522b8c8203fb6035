"""A tiny embedding model built offline: a 2-layer BERT encoder with a WordPiece tokenizer trained on a
few sentences (some 100 KB of weights), for the embeddings worker and the gateway's tests.

Needs torch and transformers, so it runs with a runtime environment's python, never the hub's:

    <environment>/bin/python tests/support/tiny_embedder.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SENTENCES = [
    "The hub stores models, datasets and spaces.",
    "An endpoint serves a model over an OpenAI-compatible API.",
    "Cats sleep on warm windows in the afternoon.",
    "Dogs chase balls across the green park.",
    "Embeddings place similar sentences close together.",
    "The gateway balances requests across healthy replicas.",
    "Rain falls on the quiet city at night.",
    "A replica that dies is restarted with backoff.",
]


def build(out: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    core = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    core.normalizer = normalizers.BertNormalizer(lowercase=True)
    core.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    core.decoder = decoders.WordPiece()
    core.train_from_iterator(SENTENCES * 4, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials))
    cls, sep = core.token_to_id("[CLS]"), core.token_to_id("[SEP]")
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    out.mkdir(parents=True, exist_ok=True)
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    card = "---\nlibrary_name: transformers\npipeline_tag: feature-extraction\n---\n# tiny embedder\n"
    (out / "README.md").write_text(card)
    print(json.dumps({"dir": str(out), "hidden_size": config.hidden_size}))


if __name__ == "__main__":
    build(Path(sys.argv[1]))
