"""Files whose content repeats come back through Xet exactly as they went up: whole, and by byte
range, through hf_xet, csghub-sdk's xnet path, plain HTTP, and the reconstruction API itself.

Repetition is what real checkpoints have (padding, tied or identical layers) and what makes a
reconstruction name the same chunks of one xorb in several terms.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from csghub.xet.hashes import chunk_hash, file_hash, sha256_to_shard, to_hex, verification_hash, xorb_hash
from csghub.xet.shards import ChunkEntry, FileBlock, Shard, Term, XorbBlock, serialize_shard
from csghub.xet.xorbs import HEADER_SIZE, decode_chunk, read_header, serialize_xorb
from tests.conftest import LiveHubFactory
from tests.support.clients import api, client_env, create_repo
from tests.support.live import LiveHub
from tests.support.s3 import MotoServer

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

MIB = 1 << 20
CDC_MAX = 128 * 1024  # hf_xet's largest chunk


def _rng_bytes(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(n)


def first_shapes() -> dict[str, bytes]:
    """Files uploaded in a first session."""
    rng = random.Random(9)
    block = _rng_bytes(rng, MIB)
    same = _rng_bytes(rng, 300_000)
    filler = [_rng_bytes(rng, 150_000 + 7_919 * i) for i in range(4)]
    shifted = (
        block + _rng_bytes(rng, 17) + block + block[1000:] + _rng_bytes(rng, 5) + block[:700_000] + block[3:] + block
    )
    return {
        "zeros.bin": bytes(3 * MIB),
        "repeat.bin": block * 4,
        "shifted.bin": shifted,
        "scattered.bin": filler[0] + same + filler[1] + same + filler[2] + same + filler[3],
        "padded.bin": block[:400_000] + bytes(MIB) + block[:400_000] + bytes(300_000) + block[400_000:],
        "base.bin": _rng_bytes(random.Random(10), 2 * MIB),
        "tiny.bin": _rng_bytes(rng, 5_000),
        "empty.bin": b"",
    }


def second_shapes(first: dict[str, bytes], head: int, last: int) -> dict[str, bytes]:
    """Files uploaded afterwards by a fresh client: they share chunks with files already in the hub.
    `head` and `last` are the lengths of base.bin's first and last chunks."""
    base, block = first["base.bin"], first["repeat.bin"][:MIB]
    rng = random.Random(11)
    # Zeros are cut into 128 KiB chunks, so a run of them that ends on a multiple of 128 KiB after a
    # chunk boundary makes the next bytes start a chunk: there base's chunks come back as they
    # were stored. Terms [h, h+1), [h, n-1), [h+1, n-1) of one xorb, which hf_xet 1.8.0 could not
    # rebuild when each had its own fetch range ("chunk_start h+1 not found in chunk_ranges").
    aligned = (
        base[:head] + bytes(2 * CDC_MAX) + base + bytes(2 * CDC_MAX - last) + base[head : len(base) - last] + b"end"
    )
    return {
        "aligned.bin": aligned,
        "shared.bin": base[:MIB] + _rng_bytes(rng, 300_000) + base[MIB:],
        "prefix.bin": base[:1_500_000],
        "suffix.bin": base[700_000:],
        "again.bin": block[500_000:] + base + block + block[:200_000],
    }


def ranges_of(size: int) -> list[tuple[int, int]]:
    """Byte ranges [start, end) that start and end mid-chunk, on repeats, and at the edges."""
    if size == 0:
        return []
    picks = {(0, size), (0, 1), (size - 1, size), (1, size - 1), (size // 3, size // 3 + 1)}
    for start in (size // 4 + 13, size // 2 - 77_777, (3 * size) // 5):
        for length in (1, 65_537, 400_001, MIB + 3):
            if 0 <= start < size:
                picks.add((start, min(start + length, size)))
    return sorted(p for p in picks if p[0] < p[1])


_UPLOAD = (
    "import sys; from huggingface_hub import HfApi; "
    "HfApi(endpoint=sys.argv[1], token=sys.argv[2]).upload_folder("
    "folder_path=sys.argv[3], repo_id=sys.argv[4], commit_message=sys.argv[5])"
)


def upload_session(hub: LiveHub, token: str, repo: str, files: dict[str, bytes], folder: Path) -> None:
    """One hf_xet upload session in a fresh process with a fresh cache: only the hub can tell it
    what is already stored."""
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-c", _UPLOAD, hub.url, token, str(folder), repo, folder.name],
        env=client_env(folder.parent / f"{folder.name}-home", {"HF_XET_CACHE": str(folder.parent / "xc")}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def read_token(hub: LiveHub, token: str, repo: str) -> tuple[str, str, int]:
    with api(hub.url, token) as client:
        r = client.get(f"/api/models/{repo}/xet-read-token/main")
    assert r.status_code == 200, r.text
    return r.headers["x-xet-cas-url"], r.headers["x-xet-access-token"], int(r.headers["x-xet-token-expiration"])


def xet_hashes(hub: LiveHub, token: str, repo: str) -> dict[str, tuple[str, int]]:
    with api(hub.url, token) as client:
        tree = client.get(f"/api/models/{repo}/tree/main").json()
    return {e["path"]: (e["xetHash"], e["size"]) for e in tree if e.get("xetHash")}


def fetch_plan(
    cas_url: str, xet_token: str, name: str, start: int, end: int, client: httpx.Client | None = None
) -> dict:
    r = (client or httpx).get(
        f"{cas_url}/v1/reconstructions/{name}",
        headers={"Authorization": f"Bearer {xet_token}", "Range": f"bytes={start}-{end - 1}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return r.json()


def _holders(plan: dict, term: dict) -> list[dict]:
    lo, hi = term["range"]["start"], term["range"]["end"]
    return [e for e in plan["fetch_info"][term["hash"]] if e["range"]["start"] <= lo < hi <= e["range"]["end"]]


def check_plan_shape(plan: dict) -> None:
    """What hf_xet relies on: per xorb, fetch ranges sorted, disjoint and not touching, and each
    term inside exactly one of them; byte ranges ordered like their chunk ranges."""
    for xorb, entries in plan["fetch_info"].items():
        chunks = [(e["range"]["start"], e["range"]["end"]) for e in entries]
        assert chunks == sorted(chunks), xorb
        assert all(a[1] < b[0] for a, b in itertools.pairwise(chunks)), chunks
        spans = [(e["url_range"]["start"], e["url_range"]["end"]) for e in entries]
        assert all(lo <= hi for lo, hi in spans) and all(a[1] < b[0] for a, b in itertools.pairwise(spans))
    for term in plan["terms"]:
        assert len(_holders(plan, term)) == 1, (term, plan["fetch_info"][term["hash"]])


def rebuild_from_plan(plan: dict, start: int, end: int, client: httpx.Client) -> bytes:
    """Follow a reconstruction answer as a client does: fetch each xorb range once, then cut each
    term out of the range that holds it."""
    fetched: dict[tuple[str, int], list[bytes]] = {}
    for xorb, entries in plan["fetch_info"].items():
        for e in entries:
            lo, hi = e["url_range"]["start"], e["url_range"]["end"]
            got = client.get(e["url"], headers={"Range": f"bytes={lo}-{hi}"})
            assert got.status_code == 206 and len(got.content) == hi - lo + 1
            fetched[(xorb, e["range"]["start"])] = list(_decode_records(got.content))
    out = bytearray()
    for term in plan["terms"]:
        (holder,) = _holders(plan, term)
        records = fetched[(term["hash"], holder["range"]["start"])]
        first = term["range"]["start"] - holder["range"]["start"]
        data = b"".join(records[first : first + term["range"]["end"] - term["range"]["start"]])
        assert len(data) == term["unpacked_length"]
        out += data
    skip = plan["offset_into_first_range"]
    return bytes(out[skip : skip + end - start])


def _decode_records(blob: bytes) -> Iterator[bytes]:
    pos = 0
    while pos < len(blob):
        _, payload, scheme, size = read_header(blob[pos : pos + HEADER_SIZE])
        yield decode_chunk(scheme, blob[pos + HEADER_SIZE : pos + HEADER_SIZE + payload], size)
        pos += HEADER_SIZE + payload


_STREAM = """
import hashlib, json, sys
from hf_xet import XetFileInfo, XetSession
cas, token, exp, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
group = XetSession().new_download_stream_group(endpoint=cas, token=token, token_expiry_unix_secs=exp)
out = []
for name, size, start, end in jobs:
    digest = hashlib.sha256()
    for block in group.download_stream(XetFileInfo(name, size), start=start, end=end):
        digest.update(block)
    out.append(digest.hexdigest())
print(json.dumps(out))
"""


def hf_xet_ranges(hub: LiveHub, token: str, repo: str, jobs: list[tuple[str, int, int, int]], home: Path) -> list[str]:
    """sha256 of each (file hash, size, start, end) read through hf_xet's ranged stream, as partial
    reads do: one reconstruction query with a Range header per stream."""
    cas_url, xet_token, exp = read_token(hub, token, repo)
    proc = subprocess.run(
        [sys.executable, "-c", _STREAM, cas_url, xet_token, str(exp), json.dumps(jobs)],
        env=client_env(home, {"HF_XET_CACHE": str(home / "xc")}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return list(json.loads(proc.stdout.strip().splitlines()[-1]))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload_shapes(hub: LiveHub, token: str, repo: str, root: Path) -> dict[str, bytes]:
    """Every shape into one repository, in two hf_xet sessions; returns path -> bytes."""
    create_repo(hub.url, token, repo)
    first = first_shapes()
    upload_session(hub, token, repo, first, root / "first")
    cas_url, xet_token, _ = read_token(hub, token, repo)
    base_hash, size = xet_hashes(hub, token, repo)["base.bin"]
    head = fetch_plan(cas_url, xet_token, base_hash, 0, 1)["terms"][0]["unpacked_length"]
    last = fetch_plan(cas_url, xet_token, base_hash, size - 1, size)["terms"][0]["unpacked_length"]
    second = second_shapes(first, head, last)
    upload_session(hub, token, repo, second, root / "second")
    return {**first, **second}


@pytest.fixture(scope="module")
def repeated(live: LiveHub, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, dict[str, bytes], Path]:
    """One repository holding every shape."""
    root = tmp_path_factory.mktemp("repeats")
    user, token = live.user()
    repo = f"{user}/repeats"
    return repo, token, upload_shapes(live, token, repo, root), root


def test_xet_repeated_content_downloads_whole_with_hf_xet(live: LiveHub, repeated, tmp_path: Path) -> None:
    repo, token, files, _ = repeated
    script = (
        "import sys; from huggingface_hub import snapshot_download; "
        "print(snapshot_download(sys.argv[1], endpoint=sys.argv[2], token=sys.argv[3]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, repo, live.url, token],
        env=client_env(tmp_path / "home", {"HF_HOME": str(tmp_path / "hf"), "HF_XET_CACHE": str(tmp_path / "xc")}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    snap = Path(proc.stdout.strip().splitlines()[-1])
    for name, data in files.items():
        assert sha((snap / name).read_bytes()) == sha(data), name
    hashes = xet_hashes(live, token, repo)
    assert set(files) - set(hashes) == {"empty.bin"}  # everything else went through Xet


def test_xet_repeated_content_byte_ranges_with_hf_xet(live: LiveHub, repeated, tmp_path: Path) -> None:
    repo, token, files, _ = repeated
    hashes = xet_hashes(live, token, repo)
    jobs = [(hashes[n][0], len(d), s, e) for n, d in files.items() if n in hashes for s, e in ranges_of(len(d))]
    expected = [sha(files[n][s:e]) for n, d in files.items() if n in hashes for s, e in ranges_of(len(d))]
    assert hf_xet_ranges(live, token, repo, jobs, tmp_path / "home") == expected


def test_xet_repeated_content_plain_http_ranges(live: LiveHub, repeated) -> None:
    repo, token, files, _ = repeated
    with api(live.url, token) as client:
        for name, data in files.items():
            assert sha(client.get(f"/{repo}/resolve/main/{name}").content) == sha(data), name
            for start, end in ranges_of(len(data)):
                r = client.get(f"/{repo}/resolve/main/{name}", headers={"Range": f"bytes={start}-{end - 1}"})
                assert r.status_code == 206 and r.content == data[start:end], (name, start, end)


def test_xet_repeated_content_reconstruction_answers(live: LiveHub, repeated) -> None:
    """The answer itself, for every range: well formed for hf_xet, and it rebuilds the exact bytes."""
    repo, token, files, _ = repeated
    cas_url, xet_token, _ = read_token(live, token, repo)
    hashes = xet_hashes(live, token, repo)
    repeats = 0
    with httpx.Client(timeout=60) as client:
        for name, (file_hash, size) in hashes.items():
            for start, end in ranges_of(size):
                plan = fetch_plan(cas_url, xet_token, file_hash, start, end, client)
                check_plan_shape(plan)
                assert rebuild_from_plan(plan, start, end, client) == files[name][start:end], (name, start, end)
                used = [(t["hash"], t["range"]["start"], t["range"]["end"]) for t in plan["terms"]]
                repeats += len(used) - len(set(used))
    assert repeats > 0  # the shapes did make the client repeat terms


def test_xet_repeated_content_downloads_with_csghub_sdk(live: LiveHub, repeated, tmp_path: Path) -> None:
    repo, token, files, _ = repeated
    home = tmp_path / "home"
    env = client_env(home, {"CSGHUB_DOMAIN": live.url, "CSGHUB_TOKEN": token, "CSGHUB_HOME": str(home)})
    out = tmp_path / "out"
    cli = str(Path(sys.executable).parent / "csghub-cli")
    args = [cli, "download", repo, "--local-dir", str(out)]
    proc = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name, data in files.items():
        assert sha((out / name).read_bytes()) == sha(data), name


# --- sha256 verification, with shards made by hand so the terms repeat exactly as wanted -----------


def crafted_upload(chunks: list[bytes], terms: list[tuple[int, int]], claimed_sha: str | None = None):
    """One xorb holding `chunks` and one file made of `terms` over it: (xorb, xorb bytes, shard,
    file hash, file bytes)."""
    hashes = [chunk_hash(c) for c in chunks]
    xorb = xorb_hash([(h, len(c)) for h, c in zip(hashes, chunks, strict=True)])
    data = b"".join(b"".join(chunks[s:e]) for s, e in terms)
    leaves = [(hashes[i], len(chunks[i])) for s, e in terms for i in range(s, e)]
    offsets = list(itertools.accumulate((len(c) for c in chunks), initial=0))
    block = FileBlock(
        file_hash(leaves),
        tuple(Term(xorb, offsets[e] - offsets[s], s, e) for s, e in terms),
        tuple(verification_hash(hashes[s:e]) for s, e in terms),
        sha256_to_shard(claimed_sha or sha(data)),
    )
    entries = tuple(ChunkEntry(h, offsets[i], len(chunks[i]), 0) for i, h in enumerate(hashes))
    shard = serialize_shard(Shard((block,), (XorbBlock(xorb, entries, offsets[-1]),)))
    return to_hex(xorb), serialize_xorb(chunks), shard, to_hex(block.hash), data


def _commit_lfs(client: httpx.Client, repo: str, path: str, oid: str, size: int) -> httpx.Response:
    lines = [
        {"key": "header", "value": {"summary": f"add {path}"}},
        {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}},
    ]
    return client.post(f"/api/models/{repo}/commit/main", content="".join(json.dumps(x) + "\n" for x in lines))


def test_xet_sha256_is_checked_on_files_with_repeated_terms(live: LiveHub) -> None:
    user, token = live.user()
    repo = f"{user}/crafted"
    create_repo(live.url, token, repo)
    with api(live.url, token) as client:
        write = client.get(f"/api/models/{repo}/xet-write-token/main").json()
    auth = {"Authorization": f"Bearer {write['accessToken']}"}
    rng = random.Random(5)
    chunks = [rng.randbytes(n) for n in (30_000, 20_000, 40_000, 10_000)]
    layouts = {
        "liar.bin": [(0, 1), (0, 4), (1, 3), (0, 1), (2, 4), (3, 4), (3, 4)],
        "honest.bin": [(1, 4), (0, 2), (1, 4), (3, 4), (0, 4), (2, 3)],
    }
    with api(live.url, token) as client:
        for path, terms in layouts.items():
            true_data = b"".join(b"".join(chunks[s:e]) for s, e in terms)
            claimed = sha(b"not these bytes") if path == "liar.bin" else sha(true_data)
            xorb, blob, shard, name, data = crafted_upload(chunks, terms, claimed)
            assert httpx.post(f"{write['casUrl']}/v1/xorbs/default/{xorb}", content=blob, headers=auth).is_success
            assert httpx.post(f"{write['casUrl']}/v1/shards", content=shard, headers=auth).json() == {"result": 1}
            before = client.get(f"/api/models/{repo}").json()["sha"]
            r = _commit_lfs(client, repo, path, claimed, len(data))
            if path == "liar.bin":
                assert r.status_code == 400 and "claims sha256" in r.json()["error"]
                assert client.get(f"/api/models/{repo}").json()["sha"] == before
                continue
            assert r.status_code == 200, r.text
            assert client.get(f"/{repo}/resolve/main/{path}").content == data
            for start, end in ranges_of(len(data)):
                got = client.get(f"/{repo}/resolve/main/{path}", headers={"Range": f"bytes={start}-{end - 1}"})
                assert got.content == data[start:end]
    cas_url, xet_token, _ = read_token(live, token, repo)
    with httpx.Client(timeout=60) as client:
        for start, end in ranges_of(len(data)):
            plan = fetch_plan(cas_url, xet_token, name, start, end, client)
            check_plan_shape(plan)
            assert rebuild_from_plan(plan, start, end, client) == data[start:end]


def test_xet_false_sha256_claim_by_one_user_does_not_block_another(live: LiveHub) -> None:
    """The same bytes registered first with a false sha256 (by anyone) still commit and download
    for the next uploader who names them truly."""
    rng = random.Random(6)
    chunks = [rng.randbytes(n) for n in (30_000, 20_000)]
    terms = [(0, 2), (0, 1), (1, 2)]
    true_sha = sha(b"".join(b"".join(chunks[s:e]) for s, e in terms))
    for who, claimed in (("stranger", sha(b"other bytes")), ("owner", true_sha)):
        user, token = live.user()
        repo = f"{user}/{who}"
        create_repo(live.url, token, repo)
        xorb, blob, shard, name, data = crafted_upload(chunks, terms, claimed)
        with api(live.url, token) as client:
            write = client.get(f"/api/models/{repo}/xet-write-token/main").json()
            auth = {"Authorization": f"Bearer {write['accessToken']}"}
            assert httpx.post(f"{write['casUrl']}/v1/xorbs/default/{xorb}", content=blob, headers=auth).is_success
            assert httpx.post(f"{write['casUrl']}/v1/shards", content=shard, headers=auth).json() == {"result": 1}
            r = _commit_lfs(client, repo, "f.bin", claimed, len(data))
            if who == "stranger":
                assert r.status_code == 400 and f"its bytes hash to {true_sha}" in r.json()["error"]
                continue
            assert r.status_code == 200, r.text
            head = client.head(f"/{repo}/resolve/main/f.bin")
            assert head.headers["x-xet-hash"] == name and head.headers["etag"].strip('"') == true_sha
            assert client.get(f"/{repo}/resolve/main/f.bin").content == data


# --- the same on S3-compatible storage, where xorb ranges are read from presigned URLs -------------


def plans_without_urls(hub: LiveHub, token: str, repo: str, name: str, size: int) -> list[dict]:
    """The reconstruction answer for every range of a file, URLs left out."""
    cas_url, xet_token, _ = read_token(hub, token, repo)
    out = []
    with httpx.Client(timeout=60) as client:
        for start, end in ranges_of(size):
            plan = fetch_plan(cas_url, xet_token, name, start, end, client)
            for entries in plan["fetch_info"].values():
                for e in entries:
                    del e["url"]
            out.append(plan)
    return out


def crafted_commit(hub: LiveHub, token: str, repo: str, chunks: list[bytes], terms: list[tuple[int, int]]) -> str:
    create_repo(hub.url, token, repo)
    xorb, blob, shard, name, data = crafted_upload(chunks, terms)
    with api(hub.url, token) as client:
        write = client.get(f"/api/models/{repo}/xet-write-token/main").json()
        auth = {"Authorization": f"Bearer {write['accessToken']}"}
        assert httpx.post(f"{write['casUrl']}/v1/xorbs/default/{xorb}", content=blob, headers=auth).is_success
        assert httpx.post(f"{write['casUrl']}/v1/shards", content=shard, headers=auth).json() == {"result": 1}
        assert _commit_lfs(client, repo, "f.bin", sha(data), len(data)).status_code == 200
    return name


@pytest.fixture
def s3_hub(live_hub_factory: LiveHubFactory) -> Iterator[LiveHub]:
    moto = MotoServer().start()
    yield live_hub_factory(
        {
            "CSGHUB_STORAGE": "s3",
            "CSGHUB_S3_BUCKET": f"xet{secrets.token_hex(4)}",
            "CSGHUB_S3_ENDPOINT": moto.endpoint,
            "CSGHUB_S3_ACCESS_KEY": "test",
            "CSGHUB_S3_SECRET_KEY": "test",
        }
    )
    moto.stop()


def test_xet_repeated_content_on_s3_builds_the_same_ranges(live: LiveHub, s3_hub: LiveHub, tmp_path: Path) -> None:
    # The same xorb and terms on both hubs (made by hand: hf_xet packs xorbs in no fixed order).
    rng = random.Random(8)
    chunks = [rng.randbytes(n) for n in (40_000, 9_000, 70_000, 20_000, 33_000)]
    terms = [(0, 1), (2, 3), (0, 5), (1, 4), (4, 5), (0, 1), (3, 5), (2, 3)]
    size = sum(len(b"".join(chunks[s:e])) for s, e in terms)
    answers = []
    for hub in (live, s3_hub):
        user, token = hub.user()
        name = crafted_commit(hub, token, f"{user}/crafted", chunks, terms)
        answers.append(plans_without_urls(hub, token, f"{user}/crafted", name, size))
    assert answers[0] == answers[1]

    # hf_xet's own uploads of every shape, read back through presigned URLs.
    user, token = s3_hub.user()
    repo = f"{user}/repeats"
    files = upload_shapes(s3_hub, token, repo, tmp_path / "up")
    cas_url, xet_token, _ = read_token(s3_hub, token, repo)
    hashes = xet_hashes(s3_hub, token, repo)
    with httpx.Client(timeout=60) as client:
        for name, (file_hash, size) in hashes.items():
            for start, end in ranges_of(size)[:4]:
                plan = fetch_plan(cas_url, xet_token, file_hash, start, end, client)
                check_plan_shape(plan)
                assert all("X-Amz-Signature=" in e["url"] for v in plan["fetch_info"].values() for e in v)
                assert rebuild_from_plan(plan, start, end, client) == files[name][start:end]
    jobs = [(hashes[n][0], len(d), s, e) for n, d in files.items() if n in hashes for s, e in ranges_of(len(d))]
    expected = [sha(files[n][s:e]) for n, d in files.items() if n in hashes for s, e in ranges_of(len(d))]
    assert hf_xet_ranges(s3_hub, token, repo, jobs, tmp_path / "home") == expected
