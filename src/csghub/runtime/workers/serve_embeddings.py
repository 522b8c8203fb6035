"""An OpenAI-compatible embeddings server for one model: `/v1/embeddings`, `/v1/models`, `/health`.

`transformers serve` has no embeddings route, so the hub serves embedding models with this thin worker
(runtime environment `embeddings`). Run by the environment's own python, it imports nothing from
csghub:

    python serve_embeddings.py [--repo NS/NAME --revision SHA] --local-dir DIR --host H --port P [-- OPTIONS]

With --repo it first fetches the model from the hub exactly as serve_transformers.py does (HF_ENDPOINT
and HF_TOKEN given by the hub), then serves offline.

An embedding is the mean of the model's last hidden states over the input's tokens (padding left out),
scaled to unit length, as sentence-transformers' mean pooling does; cosine similarity is then a dot
product. One forward pass embeds a whole request's inputs, one request at a time.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

if (
    TYPE_CHECKING
):  # torch and transformers load once the model is on disk: their hub client reads its settings at import
    import torch

log = logging.getLogger("serve_embeddings")
MAX_INPUTS = 2048
# Inputs go through the model in slices of this many, so a large request does not need one huge batch.
SLICE = 32


class Refused(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def _error(status: int, message: str, param: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": None}}, status_code=status)


class Embedder:
    def __init__(self, model_dir: str, *, device: str, dtype: str, max_length: int | None) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.name = model_dir
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if self.tokenizer.pad_token is None:  # decoder tokenizers often have none; padding is masked out anyway
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        torch_dtype = getattr(torch, dtype) if dtype != "auto" else "auto"
        self.model = AutoModel.from_pretrained(model_dir, dtype=torch_dtype).to(self.device).eval()
        limits = [
            value
            for value in (
                max_length,
                getattr(self.model.config, "max_position_embeddings", None),
                self.tokenizer.model_max_length if self.tokenizer.model_max_length < 1_000_000 else None,
            )
            if isinstance(value, int) and value > 0
        ]
        self.max_length = min(limits) if limits else 512
        self.lock = threading.Lock()  # one forward pass at a time: torch already uses every core given

    def _batch(self, items: list[str | list[int]]) -> dict[str, torch.Tensor]:
        import torch

        if all(isinstance(item, str) for item in items):
            return dict(
                self.tokenizer(items, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
            )
        rows = [item[: self.max_length] if isinstance(item, list) else self._ids(item) for item in items]
        width = max(len(row) for row in rows)
        pad = int(self.tokenizer.pad_token_id or 0)
        ids = torch.tensor([row + [pad] * (width - len(row)) for row in rows])
        mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
        return {"input_ids": ids, "attention_mask": mask}

    def _ids(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer(text, truncation=True, max_length=self.max_length)["input_ids"]
        return ids

    def embed(self, items: list[str | list[int]], dimensions: int | None) -> tuple[list[torch.Tensor], int]:
        import torch

        vectors: list[torch.Tensor] = []
        tokens = 0
        with self.lock, torch.inference_mode():
            for start in range(0, len(items), SLICE):
                batch = {k: v.to(self.device) for k, v in self._batch(items[start : start + SLICE]).items()}
                mask = batch["attention_mask"].unsqueeze(-1).to(torch.float32)
                hidden = self.model(**batch).last_hidden_state.to(torch.float32)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
                if dimensions is not None:
                    pooled = pooled[:, :dimensions]
                vectors.extend(torch.nn.functional.normalize(pooled, dim=-1).cpu())
                tokens += int(batch["attention_mask"].sum())
        return vectors, tokens


def _inputs(body: dict[str, Any]) -> list[str | list[int]]:
    given = body.get("input")
    if isinstance(given, str) or (isinstance(given, list) and given and all(isinstance(i, int) for i in given)):
        given = [given]
    if not isinstance(given, list) or not given:
        raise Refused("'input' must be a string, a list of strings, or token ids", "input")
    if len(given) > MAX_INPUTS:
        raise Refused(f"'input' holds {len(given)} items; at most {MAX_INPUTS} per request", "input")
    for item in given:
        ok_ids = isinstance(item, list) and item and all(isinstance(i, int) and not isinstance(i, bool) for i in item)
        if not (isinstance(item, str) and item) and not ok_ids:
            raise Refused("each input must be a non-empty string or a non-empty list of token ids", "input")
    return given


def _encode(vector: torch.Tensor, encoding: str) -> list[float] | str:
    if encoding == "base64":  # OpenAI's: little-endian float32, base64
        return base64.b64encode(vector.float().numpy().astype("<f4").tobytes()).decode()
    values: list[float] = vector.tolist()
    return values


def create_app(embedder: Embedder) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    created = int(time.time())

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        entry = {"id": embedder.name, "object": "model", "created": created, "owned_by": "local"}
        return {"object": "list", "data": [entry]}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "The request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object")
        try:
            items = _inputs(body)
            encoding = body.get("encoding_format") or "float"
            if encoding not in ("float", "base64"):
                raise Refused("'encoding_format' must be 'float' or 'base64'", "encoding_format")
            dimensions = body.get("dimensions")
            if dimensions is not None and (not isinstance(dimensions, int) or dimensions < 1):
                raise Refused("'dimensions' must be a positive integer", "dimensions")
        except Refused as exc:
            return _error(400, exc.message, exc.param)
        vectors, tokens = await run_in_threadpool(embedder.embed, items, dimensions)
        data = [
            {"object": "embedding", "index": index, "embedding": _encode(vector, encoding)}
            for index, vector in enumerate(vectors)
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return JSONResponse({"object": "list", "data": data, "model": embedder.name, "usage": usage})

    return app


def parse(argv: list[str]) -> argparse.Namespace:
    """serve_transformers.py's arguments (the compute service starts every engine alike), then this
    server's own options where that one passes `transformers serve`'s (after --)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", help="the model repository, ns/name; without it --local-dir must hold the model")
    parser.add_argument("--revision", help="the commit to serve (with --repo)")
    parser.add_argument("--local-dir", required=True, type=Path, help="where the model's files are, or go")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("engine_args", nargs="*", help="this server's options (after --): --dtype, --max-length")
    args = parser.parse_args(argv)
    options = argparse.ArgumentParser(prog="serve_embeddings.py -- ")
    options.add_argument("--dtype", default="float32", help="torch dtype name, or auto")
    options.add_argument("--max-length", type=int, default=None, help="tokens kept of each input")
    options.add_argument("--log-level", default="info")
    return argparse.Namespace(**vars(args), **vars(options.parse_args(args.engine_args)))


def main(argv: list[str]) -> None:
    args = parse(argv)
    if args.repo:
        # The same download as a chat replica's: under a lock, into a directory replicas share, renamed
        # into place when complete (serve_transformers.py sits beside this script, on its sys.path).
        from serve_transformers import fetch

        fetch(args.repo, args.revision or "main", args.local_dir)
    for key in ("HF_TOKEN", "HF_ENDPOINT"):  # the files are local now; nothing below should reach a hub
        os.environ.pop(key, None)
    os.environ["HF_HUB_OFFLINE"] = "1"
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    embedder = Embedder(str(args.local_dir), device=args.device, dtype=args.dtype, max_length=args.max_length)
    log.info("serving %s (inputs cut at %d tokens) on %s:%d", args.local_dir, embedder.max_length, args.host, args.port)
    uvicorn.run(create_app(embedder), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main(sys.argv[1:])
