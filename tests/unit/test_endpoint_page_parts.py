"""The pure parts of the portal's endpoint pages: the form's fields to a spec, the service's refusals
to the field they are about, the Summary's progress text and snippets, the console's uptime."""

from __future__ import annotations

from datetime import datetime

import pytest

from csghub.core.errors import Conflict, InvalidArgument, RevisionNotFound
from csghub.core.names import RepoId
from csghub.services.compute.clusters import ClusterView, TierView
from csghub.services.compute.endpoints import EndpointView, EventView
from csghub.services.compute.frameworks import FrameworkView
from csghub.web.console_pages import uptime
from csghub.web.endpoint_forms import engine_args_of, error_of, spec_of, suggested_name
from csghub.web.endpoint_snippets import snippets
from csghub.web.endpoint_summary_pages import progress_of

NOW = datetime(2026, 1, 1)


def _view(state: str, reason: str = "", framework_state: str = "ready") -> EndpointView:
    return EndpointView(
        id=1,
        owner="alice",
        name="bot",
        model="alice/tiny",
        revision="main",
        commit="a" * 40,
        cluster=ClusterView(1, "local", "local", "", "", True),
        tier=TierView(1, 1, "cpu-1", 1.0, 2048, 0, "", True),
        framework=FrameworkView(1, "transformers", "1", "transformers", False, (), framework_state, "", True),
        min_replicas=1,
        max_replicas=1,
        visibility="private",
        engine_args={},
        state=state,
        reason=reason,
        replicas=(),
        created_at=NOW,
        updated_at=NOW,
    )


def test_engine_args_of_reads_key_value_lines_and_refuses_a_line_without_equals() -> None:
    assert engine_args_of("dtype=float32\n\n --max-model-len = 512 \n") == {"dtype": "float32", "max-model-len": "512"}
    with pytest.raises(InvalidArgument, match="write one key=value a line"):
        engine_args_of("dtype")


def test_the_suggested_name_is_the_model_name_in_endpoint_name_letters() -> None:
    assert suggested_name(RepoId("alice", "Qwen2.5-0.5B-Instruct")) == "qwen2-5-0-5b-instruct"
    assert suggested_name(RepoId("alice", "tiny-chat")) == "tiny-chat"


def test_spec_of_leaves_bad_numbers_for_the_service_to_refuse() -> None:
    spec = spec_of({"name": " bot ", "min_replicas": "abc", "max_replicas": "6", "cluster_id": "x"})
    assert (spec.name, spec.min_replicas, spec.max_replicas, spec.cluster_id) == ("bot", 0, 6, None)
    assert spec.visibility == "private" and spec.revision is None


@pytest.mark.parametrize(
    ("error", "field"),
    [
        (InvalidArgument("Invalid endpoint name 'a b': use 1-64 letters"), "name"),
        (Conflict("An endpoint named 'bot' already exists"), "name"),
        (InvalidArgument("Invalid replicas: need 1 <= min_replicas"), "replicas"),
        (InvalidArgument("Invalid engine argument 'port': use a flag name"), "engine_args"),
        (RevisionNotFound("Invalid rev id: nope"), "revision"),
        (InvalidArgument("Something else entirely"), ""),
    ],
)
def test_error_of_names_the_field_a_refusal_is_about(error: InvalidArgument, field: str) -> None:
    found = error_of(error)
    assert found.field == field and found.message == error.message and found.code == error.code


def test_progress_shows_the_error_of_a_failed_endpoint_and_the_latest_event_while_it_moves() -> None:
    events = [EventView(NOW, "info", "deploying"), EventView(NOW, "error", "replica 0 exited: bad config")]
    assert progress_of(_view("failed"), events) == "replica 0 exited: bad config"
    assert progress_of(_view("failed", "engine crashed"), events) == "engine crashed"
    assert progress_of(_view("deploying"), [EventView(NOW, "info", "replica 0 starting")]) == "replica 0 starting"
    building = progress_of(_view("building", framework_state="building"), [])
    assert building == "building the 'transformers' runtime environment"
    assert progress_of(_view("running"), events) == ""


def test_snippets_carry_the_url_and_a_token_only_for_private_endpoints() -> None:
    url = "http://hub.test/endpoints/alice/bot/v1"
    private = dict(snippets(url, "alice/bot", private=True))
    assert private["curl"].startswith(f"curl {url}/chat/completions")
    assert "Bearer $HF_TOKEN" in private["curl"] and '"model": "alice/bot"' in private["curl"]
    assert f'OpenAI(base_url="{url}", api_key=os.environ["HF_TOKEN"])' in private["Python (openai)"]
    assert f'InferenceClient(base_url="{url}"' in private["Python (huggingface_hub)"]
    public = dict(snippets(url, "alice/bot", private=False, embeddings=True))
    assert "HF_TOKEN" not in "".join(public.values()) and f"{url}/embeddings" in public["curl"]


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "—"), (59, "0m 59s"), (3600 + 120, "1h 2m"), (2 * 86400 + 3 * 3600, "2d 3h")]
)
def test_uptime_is_short(seconds: int, shown: str) -> None:
    assert uptime(seconds) == shown
