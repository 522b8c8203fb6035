"""The code an endpoint's Summary page offers to copy: curl, the openai SDK and huggingface_hub's
InferenceClient, each with the endpoint's real URL and model name. Private endpoints read the caller's
hub token from HF_TOKEN; public ones need none."""

from __future__ import annotations

import json

PROMPT = "Hello! Who are you?"


def _chat_body(model: str) -> str:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 64})


def _embedding_body(model: str) -> str:
    return json.dumps({"model": model, "input": PROMPT})


def snippets(url: str, model: str, *, private: bool, embeddings: bool = False) -> list[tuple[str, str]]:
    """(label, code) pairs; `url` ends in /v1."""
    auth = '  -H "Authorization: Bearer $HF_TOKEN" \\\n' if private else ""
    key = 'os.environ["HF_TOKEN"]' if private else '"unused"'
    if embeddings:
        curl = (
            f"curl {url}/embeddings \\\n{auth}"
            f"  -H \"Content-Type: application/json\" \\\n  -d '{_embedding_body(model)}'"
        )
        sdk = (
            "# pip install openai\nimport os\nfrom openai import OpenAI\n\n"
            f'client = OpenAI(base_url="{url}", api_key={key})\n'
            f'vectors = client.embeddings.create(model="{model}", input="{PROMPT}")\n'
            "print(len(vectors.data[0].embedding))"
        )
        hub = (
            "# pip install huggingface_hub\nimport os\nfrom huggingface_hub import InferenceClient\n\n"
            f'client = InferenceClient(base_url="{url}", api_key={key})\n'
            f'print(client.feature_extraction("{PROMPT}", model="{model}").shape)'
        )
        return [("curl", curl), ("Python (openai)", sdk), ("Python (huggingface_hub)", hub)]
    curl = (
        f"curl {url}/chat/completions \\\n{auth}  -H \"Content-Type: application/json\" \\\n  -d '{_chat_body(model)}'"
    )
    messages = f'[{{"role": "user", "content": "{PROMPT}"}}]'
    sdk = (
        "# pip install openai\nimport os\nfrom openai import OpenAI\n\n"
        f'client = OpenAI(base_url="{url}", api_key={key})\n'
        "answer = client.chat.completions.create(\n"
        f'    model="{model}",\n    messages={messages},\n    max_tokens=64,\n)\n'
        "print(answer.choices[0].message.content)"
    )
    hub = (
        "# pip install huggingface_hub\nimport os\nfrom huggingface_hub import InferenceClient\n\n"
        f'client = InferenceClient(base_url="{url}", api_key={key})\n'
        f'answer = client.chat_completion({messages}, model="{model}", max_tokens=64)\n'
        "print(answer.choices[0].message.content)"
    )
    return [("curl", curl), ("Python (openai)", sdk), ("Python (huggingface_hub)", hub)]
