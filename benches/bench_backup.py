"""Backup and restore of N GB of LFS objects, against a plain copy of the same files in the same run.

    python -m benches.bench_backup [--size-gb 10] [--object-mb 64]

A hub's data folder is filled with `--size-gb` of distinct LFS objects (stored and registered as an upload
stores them). Then, each timed and reported in MB/s (10^6 bytes of objects per second):
- baseline: `shutil.copytree` of the blob folder to a new folder on the same disk, then `sync`;
- `create_backup` of the hub (refs, database snapshot, every object read through the blob store, hashed
  against its name and written, the manifest, one `sync`, the rename);
- `verify_archive`: every file of the archive re-hashed;
- baseline: `shutil.copytree` of the archive's blob folder, then `sync`;
- a restore onto a fresh data folder (the archive verified first, then the database, repositories and
  every object stored through the blob store, which hashes and fsyncs it), then `sync`.
The disk must hold four times `--size-gb` (source, archive, restored hub, one baseline copy at a time);
the bench checks and says so. The last line is JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from csghub.config import load_settings
from csghub.services.backup import restore as restoring
from csghub.services.backup.create import create_backup
from csghub.services.backup.manifest import verify_archive
from csghub.services.repositories import lfs
from csghub.wiring import build_hub

MB = 1_000_000


def _fill(data_dir: Path, size_gb: float, object_mb: int) -> int:
    hub = build_hub(load_settings({}, None, {"data_dir": data_dir}))
    block = os.urandom(object_mb * 1024 * 1024)
    count = max(1, int(size_gb * 1024 / object_mb))
    for i in range(count):
        data = i.to_bytes(8, "big") + block[8:]  # distinct objects without generating fresh random bytes
        oid = hashlib.sha256(data).hexdigest()
        hub.blobs.put(oid, len(data), [data])
        lfs.register_object(hub, oid, len(data))
    return count * len(block)


def _timed(action: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    subprocess.run(["sync"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-gb", type=float, default=10.0)
    parser.add_argument("--object-mb", type=int, default=64)
    parser.add_argument("--dir", default="/tmp")
    args = parser.parse_args()
    free = shutil.disk_usage(args.dir).free
    need = int(args.size_gb * 4 * 1024**3)
    if free < need:
        raise SystemExit(f"{args.dir} has {free / 1e9:.1f} GB free; {args.size_gb} GB needs {need / 1e9:.1f} GB")
    with tempfile.TemporaryDirectory(prefix="csghub-bench-backup-", dir=args.dir) as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "data"
        total = _fill(source, args.size_gb, args.object_mb)
        subprocess.run(["sync"], check=True)
        hub = build_hub(load_settings({}, None, {"data_dir": source}), run_migrations=False)
        rates: dict[str, float] = {}

        rates["copy_blobs"] = total / MB / _timed(lambda: shutil.copytree(source / "blobs", tmp / "copy"))
        shutil.rmtree(tmp / "copy")
        archive = tmp / "archive"
        rates["backup"] = total / MB / _timed(lambda: create_backup(hub, archive))
        rates["verify"] = total / MB / _timed(lambda: verify_archive(archive))
        rates["copy_archive"] = total / MB / _timed(lambda: shutil.copytree(archive / "blobs", tmp / "copy"))
        shutil.rmtree(tmp / "copy")

        def restore() -> None:
            settings = load_settings({}, None, {"data_dir": tmp / "restored"})
            manifest = restoring.verified(archive)
            restoring.prepare_target(settings, force=False)
            restoring.place_settings(archive, settings)
            target = build_hub(settings, run_migrations=False)
            restoring.restore_backup(target, archive, manifest, progress=lambda _: None)

        rates["restore"] = total / MB / _timed(restore)
    result = {
        "size_gb": args.size_gb,
        "objects_mb": args.object_mb,
        **{f"{k}_mb_s": round(v) for k, v in rates.items()},
        "backup_vs_copy": round(rates["backup"] / rates["copy_blobs"], 2),
        "restore_vs_copy": round(rates["restore"] / rates["copy_archive"], 2),
    }
    print(f"{'step':<22}{'MB/s':>8}")
    for key, value in rates.items():
        print(f"{key:<22}{value:>8.0f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
