"""A live hub with one of each thing a portal page shows, for the phone walk (tests/e2e/
test_portal_phone_walk.py): a user and an organization with long names and long words in their
profiles, a repository of each type with folders, a README of wide code and a wide table, a discussion
of wide code, a pull request, a like, a collection, a notification, a webhook, a mirror source and a
mirror (with its sync task), a fine-tune parameter group, instance and experiment (cancelled at once),
and an endpoint (stopped at once): every page of the portal has something real, and long, to show."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from huggingface_hub import CommitOperationAdd, HfApi

from csghub.core.names import RepoId, RepoType
from csghub.services.community import collections, discussions, likes
from csghub.services.compute import endpoints
from csghub.services.finetune import experiments, groups, instances, jobs
from csghub.services.identity import accounts, orgs, profile_details, tokens
from csghub.services.mirrors import mirrors, sources
from csghub.services.permissions import Actor
from csghub.services.repositories import files as files_service
from csghub.services.repositories import repos
from csghub.services.webhooks import hooks
from tests.support.clients import create_repo, write_file
from tests.support.live import LiveHub

PASSWORD = "walking passphrase 8"
WIDE = "w" * 320
CODE = f"```python\nprint('{WIDE}')\n```\n"
HEADS, CELLS = " | ".join(f"column {i}" for i in range(14)), " | ".join(f"v{i}" for i in range(14))
TABLE = f"| {HEADS} |\n|{'---|' * 14}\n| {CELLS} |\n"
LONG_NAME = "a-rather-long-repository-name-that-keeps-going-and-going"
README = f"# Wide things\n\n{CODE}\n{TABLE}\n"
SPACE_README = "---\nsdk: static\ntitle: Hello page\n---\n\n# A space\n"
CSV = "question,answer\n" + "".join(f"What is {i} plus {i}?,{2 * i}\n" for i in range(20)) + f"Long?,{WIDE}\n"

# The typed prefix of each repository type's pages, and the repository of that type on the site.
TYPES = {"model": "", "dataset": "/datasets", "space": "/spaces", "code": "/codes"}


@dataclass(frozen=True)
class Site:
    url: str
    admin: str
    org: str
    model: str
    dataset: str
    space: str
    code: str
    commits: dict[str, str]
    collection: str
    webhook: int
    source: int
    task: int
    instance: int
    experiment: int


def _fill(live: LiveHub, api: HfApi, actor: Actor, token: str, kind: str, repo: str, files: dict[str, str]) -> str:
    """A repository of `kind` with `files` and a discussion holding wide code; its last commit's id.
    huggingface_hub knows no code repositories: those go through the CSGHub API and the services."""
    title = f"Code in a comment {WIDE[:80]}"
    if kind == "code":
        create_repo(live.url, token, repo, repo_type="code")
        for path, text in files.items():
            write_file(live.url, token, repo, path, text, repo_type="code")
        repo_id = RepoId.parse(repo)
        opened = discussions.open_discussion(live.hub, actor, RepoType.CODE, repo_id, title, CODE)
        discussions.add_comment(live.hub, actor, RepoType.CODE, repo_id, opened.number, f"Or this:\n\n{CODE}")
        view = repos.get_repo(live.hub, actor, RepoType.CODE, repo_id)
        return files_service.at_revision(live.hub, actor, view, None).sha
    api.create_repo(repo, repo_type=kind, space_sdk="static" if kind == "space" else None)
    adds = [CommitOperationAdd(path, text.encode()) for path, text in files.items()]
    commit = api.create_commit(repo, adds, commit_message=f"Files for the walk {WIDE[:120]}", repo_type=kind).oid
    discussion = api.create_discussion(repo, title=title, description=CODE, repo_type=kind)
    api.comment_discussion(repo, discussion.num, f"Or this:\n\n{CODE}", repo_type=kind)
    return commit


def build_site(live: LiveHub) -> Site:
    admin = f"root{secrets.token_hex(3)}"
    user = accounts.create_user(live.hub, admin, email=f"{admin}@example.com", password=PASSWORD, is_admin=True)
    actor = accounts.actor_from_user_id(live.hub, user.id)
    token = tokens.create_token(live.hub, admin, scope="write")[0]
    org = f"lab-with-a-long-name-{secrets.token_hex(3)}"
    orgs.create_org(live.hub, org, owner=admin, full_name="A laboratory with a rather long name indeed")
    api = HfApi(endpoint=live.url, token=token)
    names = {kind: f"{admin}/{LONG_NAME}-{kind}" for kind in TYPES}
    commits: dict[str, str] = {}
    for kind, repo in names.items():
        folder = {
            "model": "docs/guide.md",
            "dataset": "data/train.csv",
            "space": "docs/guide.md",
            "code": "src/main.py",
        }
        files = {"README.md": SPACE_README + README if kind == "space" else README, "wide.py": f"print('{WIDE}')\n"}
        files[folder[kind]] = CSV if kind == "dataset" else f"# {WIDE}\n"
        files[f"{folder[kind].split('/')[0]}/{LONG_NAME}-{LONG_NAME}.md"] = "A file with a long name\n"
        if kind == "model":  # a model an endpoint can be made of (weights are not needed for the record)
            files["README.md"] = f"---\npipeline_tag: text-generation\ntags:\n- {WIDE[:80]}\n---\n" + README
            files["config.json"] = '{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}\n'
        if kind == "space":
            files["index.html"] = "<!doctype html><title>Hello</title><p>Hello from a space</p>\n"
        commits[kind] = _fill(live, api, actor, token, kind, repo, files)
    # Long words where people write their own text: full names, bios, links.
    for name in (admin, org):
        profile_details.update_details(
            live.hub,
            actor,
            name,
            full_name=f"Ada {WIDE[:150]}",
            bio=WIDE,
            links={"homepage": f"https://{WIDE[:200]}.org"},
        )
    # A pull request (discussion 2 of the model) from another user, who mentions the admin: a notification.
    fan = f"fan{secrets.token_hex(3)}"
    accounts.create_user(live.hub, fan, email=f"{fan}@example.com", password=PASSWORD)
    fan_api = HfApi(endpoint=live.url, token=tokens.create_token(live.hub, fan, scope="write")[0])
    fan_api.create_commit(
        names["model"],
        [CommitOperationAdd("wide.py", f"print('{WIDE} changed')\n".encode())],
        commit_message=f"A change for @{admin} {WIDE[:120]}",
        create_pr=True,
    )
    fan_api.comment_discussion(names["model"], 1, f"@{admin} have a look")
    likes.set_like(live.hub, actor, RepoType.MODEL, RepoId.parse(names["model"]), True)
    api.create_branch(names["model"], branch=f"feature-{LONG_NAME}")
    picks = collections.create_collection(live.hub, actor, admin, f"Walk picks {WIDE[:60]}", description=WIDE)
    collections.add_item(live.hub, actor, admin, picks.slug, RepoType.MODEL, RepoId.parse(names["model"]))
    webhook = hooks.create_webhook(
        live.hub,
        actor,
        hooks.WebhookSpec(url=f"http://127.0.0.1:9/hook/{WIDE[:120]}", watched=(hooks.Watched("user", admin),)),
    )
    source = sources.create_source(live.hub, actor, sources.SourceSpec(name="peer", base_url=live.url))
    mirrors.create_mirror(
        live.hub, actor, mirrors.MirrorSpec(source="peer", upstream=names["model"], repo=f"{admin}/mirrored")
    )
    task = mirrors.list_tasks(live.hub, actor)[0][0]
    groups.create_group(live.hub, actor, "walk-group", {})
    # An endpoint and an experiment stopped as soon as they are made: their pages, with nothing running.
    spec = endpoints.EndpointSpec(name="walk-endpoint", visibility="public")
    endpoint = endpoints.create_endpoint(live.hub, actor, RepoId.parse(names["model"]), spec)
    endpoints.stop_endpoint(live.hub, actor, endpoint.id)
    job = jobs.JobRequest(name="walk-task", model=names["model"], dataset=names["dataset"])
    experiment = experiments.create_experiment(live.hub, actor, "walk-experiment", [job])
    experiments.cancel_experiment(live.hub, actor, experiment.id)
    instance = instances.create_instance(live.hub, actor, RepoId.parse(names["model"]), "walk-instance")
    return Site(
        url=live.url,
        admin=admin,
        org=org,
        model=names["model"],
        dataset=names["dataset"],
        space=names["space"],
        code=names["code"],
        commits=commits,
        collection=picks.slug,
        webhook=webhook.id,
        source=source.id,
        task=task.id,
        instance=instance.id,
        experiment=experiment.id,
    )
