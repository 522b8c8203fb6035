"""Git hooks, run by `git receive-pack` in its own process with the settings passed in the environment."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from csghub.config import load_settings
from csghub.core.errors import HubError


def run_hook(name: str, environ: Mapping[str, str], stdin: str) -> int:
    from csghub.services import pushes
    from csghub.wiring import build_hub

    if name != "pre-receive":
        return 0
    raw = json.loads(environ["CSGHUB_HOOK_SETTINGS"])
    overrides = {key: value for key, value in raw.items() if key != "data_dir"}
    settings = load_settings({}, None, {"data_dir": Path(raw["data_dir"]), **overrides})
    hub = build_hub(settings, run_migrations=False)
    try:
        pusher = environ.get("CSGHUB_HOOK_ACTOR")
        actor = pushes.actor_from_json(pusher) if pusher else None
        updates = pushes.parse_ref_updates(stdin)
        # This hook's parent is the receive-pack that moves the refs once the hook says yes.
        pushes.check_push_in_turn(hub, int(environ["CSGHUB_HOOK_REPO_ID"]), updates, os.getppid(), actor)
    except HubError as exc:
        # git relays hook stderr to the pusher as "remote: ..." lines.
        for line in exc.message.splitlines():
            print(f"csghub: {line}", file=sys.stderr)
        return 1
    except Exception:  # a process boundary: log the details for the admin, not for the pusher
        logging.getLogger(__name__).exception("pre-receive check failed")
        print("csghub: the hub could not check this push; ask the administrator to look at the logs", file=sys.stderr)
        return 1
    return 0
