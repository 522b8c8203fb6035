"""A bounded schemathesis run against a live hub, anonymous and with a write token: no operation in
/api/openapi.json answers a server error or drops the connection, and every answer conforms to the
schema (a declared status code, a declared content type, declared headers, Allow on a 405).

Bounded for CI on two cores: a few derandomized examples per operation, no shrinking. The schema holds
the JSON API only: git smart HTTP, LFS and Xet transfers and portal pages are not in it (streaming
protocols and HTML forms, tested by their own suites), so they are not fuzzed here.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    status_code_conformance,
    unsupported_method,
)
from schemathesis.core.failures import FailureGroup

from tests.support.clients import api, create_repo
from tests.support.live import LiveHub

# Dropped connections surface as exceptions from the call itself, which fail the test as they are.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    unsupported_method,
]
# The commit route reads NDJSON: its generated body is sent as the text it is.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
BOUNDED = settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def writer(live: LiveHub) -> Iterator[tuple[str, str]]:
    """A user with a write token and a repository with a file, for requests that name it."""
    user, token = live.user("fz")
    create_repo(live.url, token, f"{user}/fuzz")
    with api(live.url, token) as client:
        line = b'{"key": "header", "value": {"summary": "seed"}}\n'
        content = base64.b64encode(b"hello\n").decode()
        line += b'{"key": "file", "value": {"path": "a.txt", "content": "' + content.encode() + b'"}}\n'
        assert client.post(f"/api/models/{user}/fuzz/commit/main", content=line).status_code == 200
    yield user, token


def _fuzz(live: LiveHub, prepare: Callable[[Case], dict[str, str]]) -> tuple[list[str], Counter[int]]:
    """Every operation, valid and invalid examples: the failures of all of them (not only the first),
    and how many answers of each status came back."""
    # schemathesis.pytest.from_fixture would give one test per operation, but its node-id handling fails
    # under pytest 9; driving each operation's strategy with hypothesis is the same generation.
    schema = schemathesis.openapi.from_url(f"{live.url}/api/openapi.json")
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @BOUNDED
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Case) -> None:
                response = case.call_and_validate(checks=CHECKS, headers=prepare(case), timeout=30)
                statuses[response.status_code] += 1

            try:
                run()
            except Unsatisfiable:
                continue  # no parameters and no body: there is nothing to make invalid
            except (Exception, FailureGroup) as exc:  # collected, so one report shows every operation
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}"[:3000])
    return failures, statuses


def test_openapi_fuzz_anonymous_finds_no_server_error(live: LiveHub) -> None:
    failures, statuses = _fuzz(live, lambda case: {})
    assert not failures, "\n\n".join(failures)
    # It got answers both ways: served (public listings, validate-yaml) and refused.
    assert statuses[200] > 10 and statuses[400] > 100 and statuses[401] > 20, statuses


def test_openapi_fuzz_with_a_write_token_finds_no_server_error(live: LiveHub, writer: tuple[str, str]) -> None:
    user, token = writer

    def aim(case: Case) -> dict[str, str]:
        # At a repository that exists, so the routes get past "not found" and read what was sent.
        if case.path_parameters and {"namespace", "name"} <= case.path_parameters.keys():
            case.path_parameters.update(namespace=user, name="fuzz")
        if case.method == "DELETE" and case.path_parameters and "token_id" in case.path_parameters:
            case.path_parameters["token_id"] = 2**31 - 1  # not the fuzzing token itself (ids count from 1)
        return {"Authorization": f"Bearer {token}"}

    failures, statuses = _fuzz(live, aim)
    assert not failures, "\n\n".join(failures)
    assert statuses[200] > 50 and statuses[400] > 100 and statuses[404] > 20, statuses
