"""Objects arriving from an upstream (services/mirrors/arrivals.py): one fetch for every reader, readers
streamed while the object is written, a failed fetch breaks every reader and keeps nothing."""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from csghub.core.errors import HubError
from csghub.core.names import RepoType
from csghub.services.mirrors.arrivals import Arrivals
from csghub.services.mirrors.cache_policy import check_rules, decide, load_rules
from tests.support.waiting import wait_until

WAIT_S = 30.0


class Gate:
    """An upstream whose chunks go out one at a time, when the test lets them."""

    def __init__(self, data: bytes, chunk: int, *, fail_after: int | None = None) -> None:
        self.chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
        self.fail_after = fail_after
        self.calls = 0
        self.released = threading.Semaphore(0)

    def fetch(self) -> Iterator[bytes]:
        self.calls += 1
        for n, chunk in enumerate(self.chunks):
            assert self.released.acquire(timeout=WAIT_S)
            if self.fail_after is not None and n == self.fail_after:
                raise HubError("the upstream went away")
            yield chunk

    def release(self, count: int) -> None:
        for _ in range(count):
            self.released.release()


class Store:
    def __init__(self, oid: str, size: int) -> None:
        self.oid, self.size = oid, size
        self.kept: bytes | None = None

    def __call__(self, chunks: Iterable[bytes]) -> None:
        data = b"".join(chunks)  # the real store hashes as it writes and publishes only what verifies
        if len(data) != self.size or hashlib.sha256(data).hexdigest() != self.oid:
            raise HubError("corrupt")
        self.kept = data


def _read_all(arrivals: Arrivals, oid: str, start: int, end: int | None, out: list[bytes]) -> None:
    arrival = arrivals.get(oid)
    assert arrival is not None
    out.append(b"".join(arrival.read(start, end, lambda s, e: iter([b"from storage"]))))


def test_readers_share_one_fetch_and_get_every_byte_while_it_is_written(tmp_path: Path) -> None:
    data = os.urandom(300_001)
    oid = hashlib.sha256(data).hexdigest()
    gate, store, arrivals = Gate(data, 7_000), Store(oid, len(data)), Arrivals()
    first = arrivals.start(oid, len(data), tmp_path, gate.fetch, store)
    again = arrivals.start(oid, len(data), tmp_path, gate.fetch, store)
    assert again is first
    results: list[bytes] = []
    readers = [
        threading.Thread(target=_read_all, args=(arrivals, oid, start, end, results))
        for start, end in ((0, None), (0, None), (12_345, 250_000), (299_999, None))
    ]
    for reader in readers:
        reader.start()
    gate.release(len(gate.chunks))
    for reader in readers:
        reader.join(timeout=WAIT_S)
    assert first.wait(WAIT_S)
    assert gate.calls == 1 and store.kept == data
    assert sorted(results, key=len) == sorted([data, data, data[12_345:250_000], data[299_999:]], key=len)
    assert arrivals.get(oid) is None and not first.part.exists()


def test_a_fetch_that_fails_mid_way_breaks_every_reader_and_keeps_nothing(tmp_path: Path) -> None:
    data = os.urandom(100_000)
    oid = hashlib.sha256(data).hexdigest()
    gate, store, arrivals = Gate(data, 10_000, fail_after=4), Store(oid, len(data)), Arrivals()
    arrival = arrivals.start(oid, len(data), tmp_path, gate.fetch, store)
    got: list[bytes] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for chunk in arrival.read(0, None, lambda s, e: iter([])):
                got.append(chunk)
        except HubError as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    gate.release(len(gate.chunks))
    reader.join(timeout=WAIT_S)
    assert not arrival.wait(WAIT_S)
    assert len(errors) == 1 and "went away" in str(errors[0])
    assert sum(map(len, got)) < len(data)  # a short stream that says it broke, never one that looks whole
    assert store.kept is None and arrivals.get(oid) is None


def test_bytes_that_do_not_verify_are_not_kept_and_readers_learn_it(tmp_path: Path) -> None:
    data = os.urandom(50_000)
    wrong = hashlib.sha256(b"something else").hexdigest()
    gate, store, arrivals = Gate(data, 50_000), Store(wrong, len(data)), Arrivals()
    arrival = arrivals.start(wrong, len(data), tmp_path, gate.fetch, store)
    gate.release(1)
    assert not arrival.wait(WAIT_S)
    assert store.kept is None and arrival.error is not None


def test_an_upstream_sending_more_than_the_size_is_cut_off(tmp_path: Path) -> None:
    data = os.urandom(20_000)
    oid = hashlib.sha256(data[:10_000]).hexdigest()
    gate, store, arrivals = Gate(data, 5_000), Store(oid, 10_000), Arrivals()
    arrival = arrivals.start(oid, 10_000, tmp_path, gate.fetch, store)
    gate.release(4)
    assert not arrival.wait(WAIT_S)
    assert store.kept is None and "more than" in str(arrival.error)


def test_an_object_another_process_is_fetching_is_waited_for_and_read_from_storage(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    oid = hashlib.sha256(data).hexdigest()
    other = os.open(tmp_path / f"proxy-{oid}.lock", os.O_RDWR | os.O_CREAT)  # the other worker's hold
    fcntl.flock(other, fcntl.LOCK_EX)
    fetched: list[int] = []

    def fetch() -> Iterator[bytes]:
        fetched.append(1)
        yield data

    arrivals = Arrivals()
    arrival = arrivals.start(oid, len(data), tmp_path, fetch, Store(oid, len(data)))
    got: list[bytes] = []
    reader = threading.Thread(
        target=lambda: got.append(b"".join(arrival.read(100, None, lambda s, e: iter([data[s:e]]))))
    )
    reader.start()
    wait_until(lambda: arrival.elsewhere, "the fetch to find the other worker's lock", timeout=WAIT_S)
    fcntl.flock(other, fcntl.LOCK_UN)  # the other worker stored the object and let go
    os.close(other)
    reader.join(timeout=WAIT_S)
    assert arrival.wait(WAIT_S) and arrival.elsewhere
    assert got == [data[100:]] and not fetched


@pytest.mark.parametrize(
    ("repo_type", "repo_id", "expected"),
    [
        (RepoType.MODEL, "private-org/plans", "deny"),
        (RepoType.MODEL, "PRIVATE-ORG/Plans", "deny"),
        (RepoType.DATASET, "open-org/data", "allow"),
        (RepoType.MODEL, "open-org/model", "cache"),
        (RepoType.MODEL, "someone/else", "cache"),
    ],
)
def test_the_first_matching_rule_decides_and_unmatched_names_are_cached(
    repo_type: RepoType, repo_id: str, expected: str
) -> None:
    rules = check_rules(
        [
            {"pattern": "private-org/*", "action": "deny"},
            {"pattern": "datasets/open-org/*", "action": "allow"},
            {"pattern": "open-org/*", "action": "cache"},
        ]
    )
    assert decide(rules, repo_type, repo_id) == expected


@pytest.mark.parametrize(
    "rules",
    [{"pattern": "x"}, [{"pattern": "", "action": "deny"}], [{"pattern": "a/*", "action": "block"}], ["a/*"]],
)
def test_bad_rules_are_refused_naming_the_problem(rules: object) -> None:
    with pytest.raises(HubError) as caught:
        check_rules(rules)
    assert caught.value.status == 400 and "rule" in caught.value.message.lower()


def test_unreadable_stored_rules_deny_everything() -> None:
    assert decide(load_rules("not json"), RepoType.MODEL, "any/thing") == "deny"
