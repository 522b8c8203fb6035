"""The pure parts of the request layer: route kinds, secrets kept out of logged queries, the two line
formats, request ids accepted or replaced, and which libraries stay quiet."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from prometheus_client import generate_latest

from csghub.core import logs, request_ids
from csghub.http.access_log import (
    Clock,
    json_line,
    protocol_of,
    redact_query,
    target_of,
    template_of,
    text_line,
    transfer_of,
)
from csghub.services.observability.metrics import Metrics


class _Route:
    path_format = "/api/{type_plural}/{namespace}/{name}"


@pytest.mark.parametrize(
    ("template", "protocol"),
    [
        ("/{repo_path}/info/refs", "git"),
        ("/{repo_path}/git-receive-pack", "git"),
        ("/{repo_path}/info/lfs/objects/batch", "lfs"),
        ("/lfs/objects/{oid}/{size}", "lfs"),
        ("/xet/{store}/v1/xorbs/{prefix}/{xorb_hash}", "xet"),
        ("/api/{type_plural}/{namespace}/{name}", "api"),
        ("/hf/api/models", "api"),
        ("/endpoints/{owner}/{name}/...", "api"),
        ("/{namespace}/{name}/resolve/{revision}/{path}", "api"),
        ("/{namespace}/{name}", "web"),
        ("unmatched", "web"),
    ],
)
def test_protocol_of_each_route_kind(template: str, protocol: str) -> None:
    assert protocol_of(template) == protocol


def test_transfer_of_names_git_lfs_and_xet_operations_only() -> None:
    assert transfer_of("POST", "/{repo_path}/git-upload-pack") == "upload-pack"
    assert transfer_of("POST", "/{repo_path}/git-receive-pack") == "receive-pack"
    assert transfer_of("PUT", "/lfs/objects/{oid}/{size}") == "upload"
    assert transfer_of("GET", "/lfs/objects/{oid}") == "download"
    assert transfer_of("PUT", "/lfs/parts/{upload_id}/{number}") == "upload_part"
    assert transfer_of("POST", "/xet/v1/xorbs/{prefix}/{xorb_hash}") == "upload"
    assert transfer_of("GET", "/xet/{store}/xorbs/{prefix}/{xorb_hash}") == "download"
    assert transfer_of("GET", "/xet/v1/reconstructions/{file_hash}") == ""
    assert transfer_of("GET", "/{repo_path}/info/refs") == ""
    assert transfer_of("GET", "/api/models") == ""


def test_template_of_never_returns_the_raw_path() -> None:
    assert template_of(_Route(), "/api/models/alice/secret") == "/api/{type_plural}/{namespace}/{name}"
    assert template_of(None, "/apps/alice/secret/index.html") == "/apps/{owner}/{name}/..."
    assert template_of(None, "/notebooks/alice/secret/lab") == "/notebooks/{owner}/{name}/..."
    assert template_of(None, "/alice/secret/whatever") == "unmatched"


def test_redact_query_blanks_credentials_and_keeps_the_rest() -> None:
    query = "token=hf_abc&Access_Token=x&sig=deadbeef&repo=2&expand[]=a&flag&password=p%20w"
    assert redact_query(query) == "token=***&Access_Token=***&sig=***&repo=2&expand[]=a&flag&password=***"
    assert redact_query("") == ""


def _fields(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "request_id": "rid-1",
        "client": "10.0.0.7",
        "user": "alice",
        "method": "GET",
        "target": target_of("/api/models/alice/m", "token=secret&x=1"),
        "route": "/api/{type_plural}/{namespace}/{name}",
        "status": 200,
        "bytes_in": 0,
        "bytes_out": 532,
        "seconds": 0.0123,
    }
    values.update(changes)
    return values


WHEN = "2026-12-03T04:05:06.789+00:00"


def test_clock_stamps_utc_with_milliseconds() -> None:
    clock = Clock()
    moment = datetime(2026, 12, 3, 4, 5, 6, 789000, tzinfo=UTC).timestamp()
    assert clock.stamp(moment) == WHEN
    assert clock.stamp(moment + 0.2) == "2026-12-03T04:05:06.989+00:00"
    assert clock.stamp(moment + 1.0) == "2026-12-03T04:05:07.789+00:00"


def test_text_line_has_every_field_and_no_secret() -> None:
    line = text_line(WHEN, **_fields())  # type: ignore[arg-type]
    assert line == (
        '2026-12-03T04:05:06.789+00:00 rid-1 10.0.0.7 alice "GET /api/models/alice/m?token=***&x=1" '
        "/api/{type_plural}/{namespace}/{name} 200 in=0 out=532 12.3ms"
    )


def test_text_line_cannot_be_split_by_what_a_client_sent() -> None:
    line = text_line(WHEN, **_fields(target=target_of('/a b"c\n', ""), user="", client=""))  # type: ignore[arg-type]
    assert '"GET /a%20b%22c%0A"' in line and "\n" not in line
    assert " - - " in line  # no client address, anonymous


def test_json_line_round_trips() -> None:
    record = json.loads(json_line(WHEN, **_fields(user="")))  # type: ignore[arg-type]
    assert record == {
        "time": "2026-12-03T04:05:06.789+00:00",
        "request_id": "rid-1",
        "client": "10.0.0.7",
        "user": "-",
        "method": "GET",
        "route": "/api/{type_plural}/{namespace}/{name}",
        "path": "/api/models/alice/m?token=***&x=1",
        "status": 200,
        "bytes_in": 0,
        "bytes_out": 532,
        "duration_ms": 12.3,
    }


@pytest.mark.parametrize("sent", ["abc-123", "3f2a:worker/7", "a" * 128])
def test_request_id_from_the_client_is_kept_when_safe(sent: str) -> None:
    assert request_ids.accept(sent, request_ids.IdMaker()) == sent


@pytest.mark.parametrize("sent", [None, "", "a b", 'x"y', "a\nb", "a" * 129, "é"])
def test_request_id_is_replaced_when_missing_or_unsafe(sent: str | None) -> None:
    maker = request_ids.IdMaker()
    made, again = request_ids.accept(sent, maker), request_ids.accept(sent, maker)
    assert made != sent and len(made) == 24 and int(made, 16) >= 0
    assert again != made and again[:16] == made[:16]  # one prefix per process, a counter after it
    assert request_ids.IdMaker().make()[:16] != made[:16]


def test_library_levels_keep_chatter_at_warning_unless_asked() -> None:
    quiet = logs.library_levels("info", ())
    assert quiet["asyncssh"] == logging.WARNING and quiet["alembic"] == logging.WARNING
    assert logs.library_levels("info", ("httpx",))["httpx"] == logging.INFO
    assert logs.library_levels("info", ("httpx",))["urllib3"] == logging.WARNING
    assert set(logs.library_levels("debug", ()).values()) == {logging.DEBUG}
    assert logs.library_levels("error", ())["botocore"] == logging.ERROR


def test_metrics_holders_do_not_share_values() -> None:
    one, two = Metrics(), Metrics()
    one.record.observe_request("/api/models", "GET", 200, 0.01)
    one.record.count_bytes("git", 10, 20)
    one.record.count_transfer("lfs", "upload")
    text = generate_latest(one.registry).decode()
    assert 'csghub_http_requests_total{method="GET",route="/api/models",status="200"} 1.0' in text
    assert 'csghub_transfer_bytes_total{direction="out",protocol="git"} 20.0' in text
    assert 'csghub_transfers_total{operation="upload",protocol="lfs"} 1.0' in text
    assert "/api/models" not in generate_latest(two.registry).decode()


def test_access_sink_writes_whole_lines_and_flushes_soon_after() -> None:
    import asyncio
    import io

    class Counting(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1
            super().flush()

    stream = Counting()
    sink = logs.AccessSink(stream)
    sink.write("one")  # no loop running: written at once
    assert stream.getvalue() == "one\n" and stream.flushes == 1

    async def burst() -> None:
        for number in range(3):
            sink.write(f"line {number}")
        assert stream.flushes == 1  # buffered
        await asyncio.sleep(logs.FLUSH_SECONDS * 2)

    asyncio.run(burst())
    assert stream.getvalue() == "one\nline 0\nline 1\nline 2\n" and stream.flushes == 2  # once for the burst


def test_log_records_name_the_request_they_were_written_for() -> None:
    record = logging.LogRecord("csghub.x", logging.INFO, __file__, 1, "hello", None, None)
    request_ids.RequestIdFilter().filter(record)
    assert record.request_id == "-"  # outside any request
    token = request_ids.current.set("req-9")
    try:
        request_ids.RequestIdFilter().filter(record)
    finally:
        request_ids.current.reset(token)
    assert record.request_id == "req-9"
    assert logging.Formatter(logs.FORMAT).format(record).endswith("INFO csghub.x [req-9]: hello")
