"""Compute's pure rules: the instance state machine, endpoint spec validation, which frameworks fit a
model, the restart backoff, and who may see, call and manage an endpoint (a matrix of every door)."""

from __future__ import annotations

import itertools

import pytest

from csghub.core.errors import HubError, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from csghub.services.compute import instances
from csghub.services.compute.endpoints import EndpointSpec, check_spec
from csghub.services.compute.frameworks import FrameworkView, ModelFacts, fits
from csghub.services.compute.supervisor import backoff
from csghub.services.permissions import ANONYMOUS, Action, Actor, EndpointResource, Grant, authorize, can

OWNER = Actor(user_id=1, name="alice")
OTHER = Actor(user_id=2, name="bob")
ADMIN = Actor(user_id=3, name="root", is_admin=True)
ORG_READER = Actor(user_id=4, name="carol", org_roles={"acme": "read"})
ORG_ADMIN = Actor(user_id=5, name="dave", org_roles={"acme": "admin"})
OWNER_READ_TOKEN = Actor(user_id=1, name="alice", scope="read")
OWNER_FINE_OTHER_NS = Actor(
    user_id=1, name="alice", scope="fine", grants=(Grant("namespace", "elsewhere", frozenset({"manage"})),)
)


def endpoint(owner: str = "alice", visibility: str = "private") -> EndpointResource:
    return EndpointResource(owner=owner, visibility=visibility, label=f"{owner}/chat")


def test_lifecycle_moves_forward_and_stops_from_anywhere() -> None:
    path = [instances.PENDING, instances.BUILDING, instances.DEPLOYING, instances.RUNNING, instances.STOPPED]
    for current, new in itertools.pairwise(path):
        instances.check_transition(current, new)
    for state in (instances.PENDING, instances.BUILDING, instances.DEPLOYING, instances.RUNNING):
        instances.check_transition(state, instances.STOPPED)
        instances.check_transition(state, instances.FAILED)
    instances.check_transition(instances.FAILED, instances.PENDING)  # a start after a failure


def test_lifecycle_refuses_skips_and_revivals_without_a_start() -> None:
    for current, new in [
        (instances.STOPPED, instances.RUNNING),
        (instances.FAILED, instances.RUNNING),
        (instances.PENDING, instances.RUNNING),
        (instances.STOPPED, instances.DEPLOYING),
    ]:
        with pytest.raises(instances.InvalidTransition) as caught:
            instances.check_transition(current, new)
        assert caught.value.status == 409 and f"from {current} to {new}" in caught.value.message


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (EndpointSpec(name=""), "Invalid endpoint name"),
        (EndpointSpec(name="-chat"), "Invalid endpoint name"),
        (EndpointSpec(name="a/b"), "Invalid endpoint name"),
        (EndpointSpec(name="x" * 65), "Invalid endpoint name"),
        (EndpointSpec(name="chat", min_replicas=0), "1 <= min_replicas"),
        (EndpointSpec(name="chat", min_replicas=3, max_replicas=2), "got 3 and 2"),
        (EndpointSpec(name="chat", max_replicas=6), "<= 5"),
        (EndpointSpec(name="chat", visibility="internal"), "Invalid visibility"),
        (EndpointSpec(name="chat", engine_args={"port": "80"}), "Invalid engine argument 'port'"),
        (EndpointSpec(name="chat", engine_args={"Bad Flag": "1"}), "Invalid engine argument"),
        (EndpointSpec(name="chat", engine_args={"dtype": "a\nb"}), "single line"),
        (EndpointSpec(name="chat", env={"HF_ENDPOINT": "http://elsewhere"}), "Invalid environment variable"),
        (EndpointSpec(name="chat", env={"lower": "1"}), "Invalid environment variable"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(spec: EndpointSpec, words: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_spec(spec)
    assert words in caught.value.message and caught.value.status == 400


def test_good_spec_passes() -> None:
    check_spec(
        EndpointSpec(name="Chat_1", min_replicas=2, max_replicas=5, engine_args={"dtype": "float32"}, env={"X": "1"})
    )


def framework(name: str, tasks: tuple[str, ...], *, gpu: bool = False, enabled: bool = True) -> FrameworkView:
    return FrameworkView(1, name, "1", name, gpu, tasks, "ready", "", enabled)


def test_frameworks_fit_by_task_and_gpu_need() -> None:
    chat = framework("transformers", ("text-generation",))
    vllm = framework("vllm", ("text-generation",), gpu=True)
    embeddings = framework("embeddings", ("feature-extraction",))
    llama = ModelFacts({"architectures": ["LlamaForCausalLM"]}, {})
    bert = ModelFacts({"architectures": ["BertModel"]}, {})
    assert fits(chat, llama, gpus_available=False)
    assert not fits(chat, bert, gpus_available=False)
    assert fits(embeddings, bert, gpus_available=False)
    assert not fits(vllm, llama, gpus_available=False)
    assert fits(vllm, llama, gpus_available=True)
    assert not fits(embeddings, llama, gpus_available=True)
    assert not fits(framework("transformers", ("text-generation",), enabled=False), llama, gpus_available=False)
    # A framework an administrator added is matched by the tasks it lists.
    assert fits(
        framework("mine", ("feature-extraction",)),
        ModelFacts(None, {"pipeline_tag": "feature-extraction"}),
        gpus_available=False,
    )
    assert not fits(framework("mine", ("feature-extraction",)), llama, gpus_available=False)


def test_restarts_back_off_exponentially_up_to_a_minute() -> None:
    assert [backoff(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


# (actor, resource, action) -> allowed; a refusal of what the actor may not see is NotFound.
MATRIX = [
    (ANONYMOUS, endpoint(visibility="public"), Action.CALL, True),
    (ANONYMOUS, endpoint(visibility="public"), Action.MANAGE, False),
    (ANONYMOUS, endpoint(), Action.CALL, False),
    (OTHER, endpoint(visibility="public"), Action.CALL, True),
    (OTHER, endpoint(), Action.CALL, False),
    (OTHER, endpoint(), Action.READ, False),
    (OWNER, endpoint(), Action.CALL, True),
    (OWNER, endpoint(), Action.MANAGE, True),
    (OWNER_READ_TOKEN, endpoint(), Action.CALL, True),
    (OWNER_READ_TOKEN, endpoint(), Action.MANAGE, False),
    (OWNER_FINE_OTHER_NS, endpoint(), Action.MANAGE, False),
    (OWNER_FINE_OTHER_NS, endpoint(visibility="public"), Action.CALL, True),
    (ORG_READER, endpoint("acme"), Action.CALL, True),
    (ORG_READER, endpoint("acme"), Action.MANAGE, False),
    (ORG_ADMIN, endpoint("acme"), Action.MANAGE, True),
    (ADMIN, endpoint(), Action.MANAGE, True),
]


@pytest.mark.parametrize(("actor", "resource", "action", "allowed"), MATRIX)
def test_endpoint_permission_matrix(actor: Actor, resource: EndpointResource, action: Action, allowed: bool) -> None:
    assert can(actor, action, resource) is allowed
    if allowed:
        authorize(actor, action, resource)
        return
    # Hidden ones look missing; visible ones say why: sign in, or not allowed.
    if not can(actor, Action.READ, resource):
        expected: type[HubError] = NotFound
    else:
        expected = Unauthenticated if actor.is_anonymous else PermissionDenied
    with pytest.raises(expected) as caught:
        authorize(actor, action, resource)
    if expected is NotFound:
        assert caught.value.code == "EndpointNotFound" and resource.label in caught.value.message


def test_private_endpoint_is_not_found_for_anonymous_callers_too() -> None:
    with pytest.raises(NotFound) as caught:
        authorize(ANONYMOUS, Action.CALL, endpoint())
    assert caught.value.status == 404
