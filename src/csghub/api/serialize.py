"""JSON shapes of the Hugging Face API, built from service values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse

from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoType
from csghub.services.repositories.files import CommitInfo, TreeEntry
from csghub.services.repositories.repos import RepoView
from csghub.services.scanning.status import FileSecurity


def json_bytes(data: Any) -> bytes:
    """`data` encoded exactly as JSONResponse would, for answers kept encoded (api/hf_repos.py)."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def ok(data: Any, status_code: int = 200) -> JSONResponse:
    """The CSGHub envelope of /api/v1 answers."""
    return JSONResponse({"msg": "OK", "data": data}, status_code=status_code)


def iso(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, the format huggingface_hub parses."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def visibility_of(body: dict[str, Any]) -> str | None:
    """The visibility a request asks for: `visibility`, or Hugging Face's `private` flag; None if neither."""
    visibility = body.get("visibility")
    if visibility is not None:
        if visibility not in ("public", "internal", "private"):
            raise InvalidArgument(f"Invalid visibility {visibility!r}: expected public, internal or private")
        return str(visibility)
    private = body.get("private")
    if private is None:
        return None
    if not isinstance(private, bool):
        raise InvalidArgument("'private' must be true or false")
    return "private" if private else "public"


def gated_of(body: dict[str, Any]) -> str | None:
    """Hugging Face's `gated`: "auto", "manual" or false (not gated); None if absent."""
    if "gated" not in body or body["gated"] is None:
        return None
    gated = body["gated"]
    if gated is False:
        return ""
    if gated not in ("auto", "manual"):
        raise InvalidArgument(f"Invalid gated mode {gated!r}: expected 'auto', 'manual' or false")
    return str(gated)


def repo_json(
    repo: RepoView, *, siblings: list[TreeEntry] | None = None, sha: str | None = None, blobs: bool = False
) -> dict[str, Any]:
    card = repo.card_data
    out: dict[str, Any] = {
        "_id": f"{repo.type.value}-{repo.id}",
        "id": repo.full_name,
        "author": repo.namespace,
        "sha": sha or repo.head_sha,
        "lastModified": iso(repo.updated_at),
        "createdAt": iso(repo.created_at),
        "private": repo.private,
        "visibility": repo.visibility,
        "disabled": False,
        "gated": repo.gated or False,
        "downloads": repo.downloads,
        "likes": repo.likes,
        "tags": repo.tags,
        "cardData": card,
        "description": repo.description,
        "default_branch": repo.default_branch,
    }
    if repo.type is RepoType.MODEL:
        out["modelId"] = repo.full_name
        if card.get("pipeline_tag"):
            out["pipeline_tag"] = card["pipeline_tag"]
        if card.get("library_name"):
            out["library_name"] = card["library_name"]
    if repo.type is RepoType.SPACE:
        out["sdk"] = card.get("sdk")
    if siblings is not None:
        out["siblings"] = [sibling_json(e, blobs=blobs) for e in siblings]
        out["usedStorage"] = sum(e.lfs.size if e.lfs else e.size for e in siblings)
    return out


def csg_repo_json(repo: RepoView) -> dict[str, Any]:
    """CSGHub's shape of a repository (/api/v1): Hugging Face's fields plus CSGHub's names for them."""
    return {
        **repo_json(repo),
        "path": repo.full_name,
        "name": repo.name,
        "nickname": repo.name,
        "default_branch": repo.default_branch,
        "repository_type": repo.type.value,
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.updated_at),
    }


def sibling_json(entry: TreeEntry, *, blobs: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"rfilename": entry.path}
    if blobs:
        out["blobId"] = entry.oid
        out["size"] = entry.lfs.size if entry.lfs else entry.size
        if entry.lfs:
            out["lfs"] = {"sha256": entry.lfs.oid, "size": entry.lfs.size, "pointerSize": entry.size}
    return out


def security_json(security: FileSecurity) -> dict[str, Any]:
    """Hugging Face's securityFileStatus. No antivirus runs here, so `avScan` is null; `pickleImportScan`
    is null for files that are not pickle-based and for those not scanned yet."""
    scan = None
    if security.level:
        imports = [{"module": i.module, "name": i.name, "safety": i.safety} for i in security.imports]
        scan = {"highestSafetyLevel": security.level, "imports": imports}
    return {"status": security.status, "avScan": None, "pickleImportScan": scan}


def tree_entry_json(
    entry: TreeEntry,
    last_commit: CommitInfo | None = None,
    xet_hashes: dict[str, str] | None = None,
    security: dict[str, FileSecurity] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": entry.kind, "oid": entry.oid, "size": entry.size, "path": entry.path}
    if entry.kind == "file" and entry.lfs:
        out["size"] = entry.lfs.size
        out["lfs"] = {"oid": entry.lfs.oid, "size": entry.lfs.size, "pointerSize": entry.size}
        if xet_hashes and entry.lfs.oid in xet_hashes:
            # Lets hf_xet skip the HEAD request and go straight to the CAS.
            out["xetHash"] = xet_hashes[entry.lfs.oid]
    if last_commit is not None:
        out["lastCommit"] = {"id": last_commit.sha, "title": last_commit.title, "date": iso(last_commit.date)}
    if security and entry.path in security:
        out["securityFileStatus"] = security_json(security[entry.path])
    return out


def commit_json(commit: CommitInfo) -> dict[str, Any]:
    return {
        "id": commit.sha,
        "title": commit.title,
        "message": commit.message,
        "authors": [{"user": commit.author_name, "email": commit.author_email}],
        "date": iso(commit.date),
        "parents": list(commit.parents),
    }
