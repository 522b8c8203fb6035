"""What a newcomer does first, shown wherever the hub has nothing to list yet (a fresh home page, a
search without results, an empty listing): create a model, push it with git, point huggingface_hub at
this hub. The commands carry this hub's own address and the viewer's name, ready to copy."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from csghub.http.deps import base_url
from csghub.services.permissions import Actor


@dataclass(frozen=True, slots=True)
class FirstSteps:
    url: str
    signed_in: bool
    git: str
    huggingface_hub: str
    endpoint: str


def steps(request: Request, actor: Actor) -> FirstSteps:
    url = base_url(request)
    name = actor.name if not actor.is_anonymous else "<your-name>"
    repo = f"{name}/my-model"
    git = (
        "git lfs install\n"
        f"git clone {url}/{repo}\n"
        "cd my-model\n"
        "cp -r /path/to/your/model/* .\n"
        "git add .\n"
        'git commit -m "First version"\n'
        "git push  # user name, then an access token as the password"
    )
    hf = (
        "# pip install huggingface_hub\n"
        f"export HF_ENDPOINT={url}\n"
        "export HF_TOKEN=<your access token>\n"
        "python - <<'PY'\n"
        "from huggingface_hub import HfApi\n"
        "api = HfApi()\n"
        f'api.create_repo("{repo}", exist_ok=True)\n'
        f'api.upload_folder(repo_id="{repo}", folder_path=".")\n'
        "PY"
    )
    return FirstSteps(url, not actor.is_anonymous, git, hf, f"export HF_ENDPOINT={url}")
