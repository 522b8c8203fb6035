"""Tables of the hub. Portable SQL only: the same schema runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Namespace(Base):
    """Users and organizations share one namespace; `name_key` is the case-folded unique name."""

    __tablename__ = "namespaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # "user" | "org"
    full_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), default="")
    password_hash: Mapped[str] = mapped_column(String(200), default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # A disabled account keeps its data but every credential of it stops working.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the password is checked: "local" (argon2 hash here), "ldap" or "oidc".
    auth_source: Mapped[str] = mapped_column(String(10), default="local")
    # The provider's stable id for this person (LDAP DN, OIDC issuer + sub); empty for local accounts.
    external_id: Mapped[str] = mapped_column(String(500), default="")
    namespace: Mapped[Namespace] = relationship(lazy="joined")

    @property
    def name(self) -> str:
        return self.namespace.name


class OrgMember(Base):
    __tablename__ = "org_members"

    org_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(10))  # "admin" | "write" | "read"


class AccessToken(Base):
    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(10))  # "read" | "write" | "fine"
    # Fine-grained tokens: JSON list of {"kind": "repo"|"namespace", "id": int|str, "actions": [...]}.
    grants: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class WebSession(Base):
    """A signed-in browser: the cookie holds a random id, the table its sha256."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class RegistrationInvite(Base):
    """An invitation code for invite-only registration; stored hashed, used once."""

    __tablename__ = "registration_invites"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class OrgInvitation(Base):
    __tablename__ = "org_invitations"
    __table_args__ = (UniqueConstraint("org_id", "user_id", name="uq_org_invitation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SiteSetting(Base):
    """Small pieces of state the site keeps about itself (the first-admin setup token's hash)."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(50), index=True)
    # The namespace the event concerns (case-folded), so organization admins can read their own.
    namespace: Mapped[str] = mapped_column(String(100), default="", index=True)
    target: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")
    remote_addr: Mapped[str] = mapped_column(String(64), default="")


class LoginFailure(Base):
    """Failed sign-ins per account or per address ("user:name", "addr:1.2.3.4") in the current window."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Repo(Base):
    """A repository; its bare git directory is named by `id`, so renames never move files."""

    __tablename__ = "repos"
    __table_args__ = (UniqueConstraint("type", "namespace_id", "name_key", name="uq_repo_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(10))
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))
    # "public", "internal" (any signed-in user) or "private".
    visibility: Mapped[str] = mapped_column(String(10), default="public")
    # "" (open), "auto" (access requests accepted at once) or "manual" (an owner decides).
    gated: Mapped[str] = mapped_column(String(10), default="")
    default_branch: Mapped[str] = mapped_column(String(200), default="main")
    description: Mapped[str] = mapped_column(Text, default="")
    # JSON text: README front matter of the default branch, and the tags derived from it.
    card_data: Mapped[str] = mapped_column(Text, default="{}")
    tags: Mapped[str] = mapped_column(Text, default="[]")
    head_sha: Mapped[str] = mapped_column(String(40), default="")
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    namespace: Mapped[Namespace] = relationship(lazy="joined")

    @property
    def full_name(self) -> str:
        return f"{self.namespace.name}/{self.name}"


class RepoDownloadDay(Base):
    """Downloads of a repository per day (UTC): the trending score adds up the recent ones."""

    __tablename__ = "repo_download_days"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class RepoCollaborator(Base):
    __tablename__ = "repo_collaborators"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(10))  # "admin" | "write" | "read"


class GateRequest(Base):
    """A user's request for access to a gated repository, and its outcome."""

    __tablename__ = "gate_requests"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(10))  # "pending" | "accepted" | "rejected"
    fields: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class LfsObject(Base):
    """A content-addressed blob, shared by every repo that references it.

    Its bytes are the blob-store object named `oid`, or, when `xet_hash` is set, the Xet file of that
    hash rebuilt from its xorbs: to git-lfs clients, the viewer and mirrors both are the same object.
    """

    __tablename__ = "lfs_objects"

    oid: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    xet_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RepoLfsObject(Base):
    __tablename__ = "repo_lfs_objects"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    oid: Mapped[str] = mapped_column(ForeignKey("lfs_objects.oid"), primary_key=True)
    __table_args__ = (Index("ix_repo_lfs_objects_oid", "oid"),)


class RepoLfsUpload(Base):
    """Proof of possession: bytes of `oid` were uploaded to this repository and hashed to `oid`.

    What lets a commit or push of this repository name the object even when storage already held it.
    """

    __tablename__ = "repo_lfs_uploads"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    oid: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LfsUpload(Base):
    """A multipart LFS upload in progress; reissued with the same parts when a client resumes."""

    __tablename__ = "lfs_uploads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    oid: Mapped[str] = mapped_column(String(64), index=True)
    # The repository the upload is for: only its writers resume it, and its completion proves possession there.
    repo_id: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    part_size: Mapped[int] = mapped_column(BigInteger)
    # The S3 multipart upload id, when the blob store is S3.
    store_upload_id: Mapped[str] = mapped_column(String(1024), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class XetXorb(Base):
    """A verified xorb; its serialized bytes live in the blob store under their sha256 (`blob_oid`)."""

    __tablename__ = "xet_xorbs"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    blob_oid: Mapped[str] = mapped_column(String(64))
    serialized_size: Mapped[int] = mapped_column(BigInteger)
    uncompressed_size: Mapped[int] = mapped_column(BigInteger)
    # Packed per chunk: serialized offset u32, serialized length u32, size u32, raw chunk hash (32 bytes).
    chunk_table: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class XetFile(Base):
    """A file registered by a shard: its terms over xorbs, and the sha256 its first uploader claimed,
    replaced by the sha256 of its bytes once they were rebuilt and hashed."""

    __tablename__ = "xet_files"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # Packed per term: raw xorb hash (32 bytes), chunk start u32, chunk end u32, unpacked bytes u32.
    terms: Mapped[bytes] = mapped_column(LargeBinary)
    # Set once the file's bytes were rebuilt and hashed; `sha256` is then theirs.
    sha256_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class XetRepoFile(Base):
    """A file a repository's write token uploaded through Xet, found by sha256 when a commit names it."""

    __tablename__ = "xet_repo_files"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_hash: Mapped[str] = mapped_column(ForeignKey("xet_files.hash"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class XetDedupChunk(Base):
    """Chunks a client may ask about to find data the hub already holds (global deduplication).

    Indexed: the first chunk of every file (answered with all that file's xorbs) and the chunks of
    every xorb whose hash makes them eligible (answered with that xorb).
    """

    __tablename__ = "xet_dedup_chunks"

    chunk_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    xorb_hash: Mapped[str] = mapped_column(String(64))
    file_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SshKey(Base):
    """A user's public key for git over SSH; a key (by fingerprint) belongs to one user only."""

    __tablename__ = "ssh_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class RepoLike(Base):
    """A user's like of a repository; `repos.likes` counts these rows."""

    __tablename__ = "repo_likes"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Collection(Base):
    """A curated list of repositories owned by a user or an organization, named by a slug."""

    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("namespace_id", "slug", name="uq_collection_slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # "public" or "private" (members of the owner namespace only).
    visibility: Mapped[str] = mapped_column(String(10), default="public")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    namespace: Mapped[Namespace] = relationship(lazy="joined")


class CollectionItem(Base):
    __tablename__ = "collection_items"

    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True, index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Discussion(Base):
    """A conversation on a repository, numbered per repository from 1 as on the Hugging Face Hub."""

    __tablename__ = "discussions"
    __table_args__ = (UniqueConstraint("repo_id", "number", name="uq_discussion_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    # "open" | "closed"; a pull request may also be "draft" (opened empty) or "merged" (for good).
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Pull requests (services/community/pulls.py): the proposed commits live at refs/pr/{number}.
    is_pull_request: Mapped[bool] = mapped_column(Boolean, default=False)
    target_branch: Mapped[str] = mapped_column(String(255), default="")
    # The target's head when the pull request was opened: its own commits are those after it.
    base_oid: Mapped[str] = mapped_column(String(40), default="")
    merge_commit_oid: Mapped[str] = mapped_column(String(40), default="")


class DiscussionComment(Base):
    """An event of a discussion: a comment (markdown `body`), a status change (`body` is the new status)
    or a title change (`body` is the former title)."""

    __tablename__ = "discussion_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    discussion_id: Mapped[int] = mapped_column(ForeignKey("discussions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="comment")  # "comment" | "status-change"
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ComputeCluster(Base):
    """Where compute work runs: the hub's own machine ("local", always present) or a Ray cluster."""

    __tablename__ = "compute_clusters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # "local" | "ray"
    # A Ray cluster's address (its dashboard's http://host:port); empty for the local one.
    address: Mapped[str] = mapped_column(String(500), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ComputeTier(Base):
    """A resource size users pick for an instance on one cluster (the seeds' "resource configuration")."""

    __tablename__ = "compute_tiers"
    __table_args__ = (UniqueConstraint("cluster_id", "name", name="uq_compute_tier_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("compute_clusters.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    cpus: Mapped[float] = mapped_column(Float, default=1.0)
    memory_mb: Mapped[int] = mapped_column(Integer, default=2048)
    gpus: Mapped[int] = mapped_column(Integer, default=0)
    gpu_type: Mapped[str] = mapped_column(String(100), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class RuntimeFramework(Base):
    """A named, versioned package set compute work runs in, and the state of its build on this hub."""

    __tablename__ = "runtime_frameworks"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_runtime_framework"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    engine: Mapped[str] = mapped_column(String(50))  # "transformers" | "embeddings" | "vllm"
    needs_gpu: Mapped[bool] = mapped_column(Boolean, default=False)
    # JSON lists: the tasks it serves ("text-generation", ...) and its pip requirement strings.
    tasks: Mapped[str] = mapped_column(Text, default="[]")
    packages: Mapped[str] = mapped_column(Text, default="[]")
    state: Mapped[str] = mapped_column(String(20), default="absent")  # absent | building | ready | failed
    reason: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The runner's Handle (JSON) of the build job while one runs.
    build_handle: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ComputeInstance(Base):
    """One piece of long-lived compute work (an endpoint now; fine-tunes, notebooks, spaces and
    conversions later): who owns it, what it runs (`spec`, JSON), where, and what it should be doing
    (`desired`) against what it is (`state`), which the supervisor reconciles."""

    __tablename__ = "compute_instances"
    __table_args__ = (
        UniqueConstraint("kind", "namespace_id", "name_key", name="uq_compute_instance_name"),
        Index("ix_compute_instances_desired_state", "desired", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "endpoint" | "finetune" | "notebook" | "space" | ...
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    repo_id: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="SET NULL"), nullable=True, index=True)
    revision: Mapped[str] = mapped_column(String(200), default="")
    commit: Mapped[str] = mapped_column(String(40), default="")
    cluster_id: Mapped[int] = mapped_column(ForeignKey("compute_clusters.id"))
    tier_id: Mapped[int] = mapped_column(ForeignKey("compute_tiers.id"))
    framework_id: Mapped[int] = mapped_column(ForeignKey("runtime_frameworks.id"))
    min_replicas: Mapped[int] = mapped_column(Integer, default=1)
    max_replicas: Mapped[int] = mapped_column(Integer, default=1)
    visibility: Mapped[str] = mapped_column(String(10), default="private")
    spec: Mapped[str] = mapped_column(Text, default="{}")
    desired: Mapped[str] = mapped_column(String(10), default="running")  # "running" | "stopped"
    state: Mapped[str] = mapped_column(String(20), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")
    # Bumped by each update: replicas of the newest generation replace the older ones (rolling).
    generation: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # When it last served a request (a space's proxy reports it, flushed at most once a minute): an
    # instance whose spec sets "sleep_seconds" sleeps after that long without one.
    active_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    namespace: Mapped[Namespace] = relationship(lazy="joined")


class ComputeReplica(Base):
    """One process of an instance, with the runner's Handle that finds it again after a hub restart."""

    __tablename__ = "compute_replicas"
    __table_args__ = (UniqueConstraint("instance_id", "generation", "index", name="uq_compute_replica"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("compute_instances.id", ondelete="CASCADE"))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    index: Mapped[int] = mapped_column(Integer, default=0)
    # "waiting" (to be started, maybe after a backoff) | "starting" | "healthy" | "stopped"
    state: Mapped[str] = mapped_column(String(20), default="waiting")
    handle: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(300), default="")
    # Starts so far (a new spec key each) and restarts after a crash while running.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    # Exits during start-up in a row: too many and the instance fails instead of looping.
    startup_failures: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    not_before: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ComputeEvent(Base):
    __tablename__ = "compute_events"
    __table_args__ = (Index("ix_compute_events_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("compute_instances.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    level: Mapped[str] = mapped_column(String(10), default="info")  # "info" | "warning" | "error"
    message: Mapped[str] = mapped_column(Text, default="")


class ComputeUsage(Base):
    """What one user (0: anonymous) did with one instance on one day (UTC)."""

    __tablename__ = "compute_usage"

    instance_id: Mapped[int] = mapped_column(ForeignKey("compute_instances.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms_sum: Mapped[float] = mapped_column(Float, default=0.0)


class DatasetConversion(Base):
    """The dataset viewer's conversion of a dataset repository to Parquet (services/datasets/conversions.py):
    the commit asked for (`wanted_sha`, set by every push to the default branch), the one converted last
    (`source_sha`, published as `parquet_sha` on refs/convert/parquet), the job's state and the catalog
    it produced (JSON: configs, splits, schemas, shards, statistics)."""

    __tablename__ = "dataset_conversions"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    wanted_sha: Mapped[str] = mapped_column(String(40), default="")
    source_sha: Mapped[str] = mapped_column(String(40), default="")
    parquet_sha: Mapped[str] = mapped_column(String(40), default="")
    # "queued" | "running" | "ready" | "failed" | "empty" (no data files the viewer can read)
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    error: Mapped[str] = mapped_column(Text, default="")
    progress_done: Mapped[int] = mapped_column(Integer, default=0)  # splits converted so far
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    num_rows: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # all splits of all configs
    catalog: Mapped[str] = mapped_column(Text, default="{}")
    handle: Mapped[str] = mapped_column(Text, default="")  # the runner's Handle (JSON) while running
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FinetuneParameterGroup(Base):
    """A named, reusable set of training parameters (LLaMA-Factory's names) owned by a namespace."""

    __tablename__ = "finetune_parameter_groups"
    __table_args__ = (UniqueConstraint("namespace_id", "name_key", name="uq_finetune_parameter_group"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    values: Mapped[str] = mapped_column(Text, default="{}")  # JSON: validated parameters
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FinetuneExperiment(Base):
    """A set of fine-tune jobs compared by one metric (the seeds' "experiment" of tasks)."""

    __tablename__ = "finetune_experiments"
    __table_args__ = (UniqueConstraint("namespace_id", "name_key", name="uq_finetune_experiment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    metric: Mapped[str] = mapped_column(String(20), default="rougeL")  # what ranks its jobs
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FinetuneInstance(Base):
    """A fine-tune instance on a model (OpenCSG's flow): a named place with its settings where the owner
    starts and stops training runs (each a FinetuneJob) and chats with the base or the result."""

    __tablename__ = "finetune_instances"
    __table_args__ = (UniqueConstraint("namespace_id", "name_key", name="uq_finetune_instance"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))
    model_repo_id: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="SET NULL"), nullable=True)
    model: Mapped[str] = mapped_column(String(200), default="")  # "ns/name" when created
    cluster_id: Mapped[int] = mapped_column(ForeignKey("compute_clusters.id"))
    tier_id: Mapped[int] = mapped_column(ForeignKey("compute_tiers.id"))
    framework_id: Mapped[int] = mapped_column(ForeignKey("runtime_frameworks.id"))
    settings: Mapped[str] = mapped_column(Text, default="{}")  # JSON: dataset, files, mapping, parameters
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FinetuneJob(Base):
    """One training run (services/finetune/runs.py): base model + dataset + parameters on a cluster, its
    state, progress and loss history, evaluation before and after, and the model repository it produced."""

    __tablename__ = "finetune_jobs"
    __table_args__ = (
        UniqueConstraint("namespace_id", "name_key", name="uq_finetune_job"),
        Index("ix_finetune_jobs_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("finetune_experiments.id", ondelete="CASCADE"), nullable=True, index=True
    )
    instance_id: Mapped[int | None] = mapped_column(
        ForeignKey("finetune_instances.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    base_repo_id: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="SET NULL"), nullable=True)
    base_model: Mapped[str] = mapped_column(String(200), default="")
    base_commit: Mapped[str] = mapped_column(String(40), default="")
    dataset_repo_id: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="SET NULL"), nullable=True)
    dataset: Mapped[str] = mapped_column(String(200), default="")
    dataset_commit: Mapped[str] = mapped_column(String(40), default="")
    # JSON: {"train": path, "eval": path | null, "mapping": {...}}
    data: Mapped[str] = mapped_column(Text, default="{}")
    parameter_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("finetune_parameter_groups.id", ondelete="SET NULL"), nullable=True
    )
    parameters: Mapped[str] = mapped_column(Text, default="{}")  # JSON: the validated values asked for
    resolved: Mapped[str] = mapped_column(Text, default="{}")  # JSON: {"args": what the engine gets, "notes": []}
    cluster_id: Mapped[int] = mapped_column(ForeignKey("compute_clusters.id"))
    tier_id: Mapped[int] = mapped_column(ForeignKey("compute_tiers.id"))
    framework_id: Mapped[int] = mapped_column(ForeignKey("runtime_frameworks.id"))
    output_name: Mapped[str] = mapped_column(String(200), default="")  # "ns/name" of the model repo to push
    output_repo_id: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="SET NULL"), nullable=True)
    merge: Mapped[bool] = mapped_column(Boolean, default=False)
    # "queued" | "running" | "succeeded" | "failed" | "cancelled"
    state: Mapped[str] = mapped_column(String(12), default="queued")
    phase: Mapped[str] = mapped_column(String(20), default="")  # within running: "download", "train", ...
    progress: Mapped[str] = mapped_column(Text, default="{}")  # JSON: step, total, loss, lr, epoch, eta
    history: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [[step, loss, lr], ...] for the chart
    metrics: Mapped[str] = mapped_column(Text, default="{}")  # JSON: {"before": {...}, "after": {...}}
    train: Mapped[str] = mapped_column(Text, default="{}")  # JSON: the trainer's figures
    error: Mapped[str] = mapped_column(Text, default="")
    handle: Mapped[str] = mapped_column(Text, default="")  # the runner's Handle (JSON) while running
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SpaceEnv(Base):
    """A space's secret or variable, passed to its app as an environment variable. A secret's value is
    AES-GCM ciphertext (services/spaces/secrets.py) and never leaves the hub again; a variable's is plain."""

    __tablename__ = "space_env"
    __table_args__ = (UniqueConstraint("repo_id", "name", name="uq_space_env_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    value: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MirrorSource(Base):
    """Another hub this one copies from (services/mirrors): the base URL of its Hugging Face-compatible API
    and an optional token, sealed at rest. Every connection to it passes the outbound address rules
    (allow and deny hosts; private and loopback addresses only when allowed), checked when it is made.
    With `upstream_proxy` it is also the upstream of the pull-through cache: a repository this hub lacks
    is fetched from it on first request when `proxy_rules` (JSON list of {"pattern", "action":
    allow|deny|cache}, first match wins) let it."""

    __tablename__ = "mirror_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    base_url: Mapped[str] = mapped_column(String(2048))
    token_sealed: Mapped[str] = mapped_column(Text, default="")  # "" = anonymous
    use_git: Mapped[bool] = mapped_column(Boolean, default=True)  # False: rebuild commits from tree listings
    max_concurrency: Mapped[int] = mapped_column(Integer, default=2)  # syncs running at once from it
    bandwidth_bytes_per_s: Mapped[int] = mapped_column(BigInteger, default=0)  # 0 = unlimited
    upstream_proxy: Mapped[bool] = mapped_column(Boolean, default=False)
    proxy_rules: Mapped[str] = mapped_column(Text, default="[]")
    cache_max_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # 0 = unbounded
    object_max_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # 0 = unbounded
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Mirror(Base):
    """A local repository kept in sync with `source:upstream_type/upstream_id`; read-only to users.
    `mode` "sync" is one an administrator or allowed user made (synced every `interval_seconds`);
    "cache" is one the pull-through cache made on first request (refreshed when asked again)."""

    __tablename__ = "mirrors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("mirror_sources.id", ondelete="RESTRICT"), index=True)
    upstream_type: Mapped[str] = mapped_column(String(16))  # model | dataset | space | code
    upstream_id: Mapped[str] = mapped_column(String(256))  # "ns/name" on the source
    mode: Mapped[str] = mapped_column(String(8), default="sync")
    interval_seconds: Mapped[int] = mapped_column(Integer, default=86400)  # 0 = only by hand
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_commit: Mapped[str] = mapped_column(String(64), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_sync_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MirrorTask(Base):
    """One sync of a mirror, run as a job on the compute runtime: queued, running, repo_synced (git history
    in), lfs (objects coming), then finished, failed (with its reason) or cancelled; retried with backoff."""

    __tablename__ = "mirror_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mirror_id: Mapped[int] = mapped_column(ForeignKey("mirrors.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # create|manual|schedule|batch|proxy|retry
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    files_done: Mapped[int] = mapped_column(Integer, default=0)
    files_total: Mapped[int] = mapped_column(Integer, default=0)
    handle: Mapped[str] = mapped_column(Text, default="")  # the runner's Handle (JSON) while running
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MirrorCacheObject(Base):
    """An LFS object the pull-through cache fetched (not one a sync or a push brought): what eviction
    may remove, least recently used first, to keep the source's cache under cache_max_bytes."""

    __tablename__ = "mirror_cache_objects"

    oid: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("mirror_sources.id", ondelete="CASCADE"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    last_used_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# --- webhooks (issue 16, item 5) ---


class Webhook(Base):
    """A user's webhook, as Hugging Face defines one: what it watches (webhook_watches), which domains
    ("repo", "discussion"; JSON list), where its deliveries go, and a secret sealed at rest."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    domains: Mapped[str] = mapped_column(String(64), default='["repo", "discussion"]')
    secret_sealed: Mapped[str] = mapped_column(Text, default="")  # "" = no secret
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WebhookWatch(Base):
    """One item a webhook watches: a namespace ("user"/"org") or a repository ("model", "dataset",
    "space"), found by `key` ("ns:name" or "type:ns/name", case-folded) when an event happens."""

    __tablename__ = "webhook_watches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(256))
    key: Mapped[str] = mapped_column(String(300), index=True)


class WebhookDelivery(Base):
    """One event sent (or to be sent) to a webhook: the payload, the repository it is about (no foreign
    key: a deleted repository's events are still delivered; `repo_namespace`/`repo_visibility` say who
    could read it then), the state (pending, sending, delivered, failed, skipped) and the last attempt's
    outcome, for the delivery log."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    repo_id: Mapped[int] = mapped_column(Integer)
    repo_namespace: Mapped[str] = mapped_column(String(100))
    repo_visibility: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    redelivery_of: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_headers: Mapped[str] = mapped_column(Text, default="{}")
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


# --- Upload scanning (issue 16, part 6: services/scanning) ---


class FileScan(Base):
    """A scan of one file's content, kept by content so that a file pushed twice (or to two repositories)
    is scanned once: `key` is "sha256:<oid>" for LFS and Xet files, "blob:<git blob id>" for files kept
    in git. `repo_id` and `path` say where the content was first seen, so a pending scan can be resumed
    after a restart; they are never shown (results are reached only through a repository's own routes)."""

    __tablename__ = "file_scans"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | done | error
    level: Mapped[str] = mapped_column(String(16), default="")  # innocuous | suspicious | dangerous once done
    imports: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [[module, name, safety], ...]
    error: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    repo_id: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="SET NULL"), nullable=True)
    path: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    scanned_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


# --- people (issue 17, item 5): profiles and notifications -------------------------------------------


class NamespaceProfile(Base):
    """What a user or an organization says about itself beyond its name: a bio (markdown), links, and an
    avatar image kept in the blob store (`avatar_oid` names the stored object, `avatar_type` its media
    type). The full name stays on `namespaces`."""

    __tablename__ = "namespace_profiles"

    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True)
    bio: Mapped[str] = mapped_column(Text, default="")
    links: Mapped[str] = mapped_column(Text, default="{}")  # JSON: {"homepage"|"github"|"twitter"|"linkedin": url}
    avatar_oid: Mapped[str] = mapped_column(String(64), default="", index=True)
    avatar_type: Mapped[str] = mapped_column(String(20), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Notification(Base):
    """Something one person should hear about, stored per recipient: `kind` names it (a new discussion, a
    comment, a status change, a mention, an access request, an invitation); `repo_id` and `number` say
    where, `org_id` which organization invites; `read_at` is null while unread."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_inbox", "recipient_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("namespaces.id", ondelete="SET NULL"), nullable=True)
    repo_id: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), nullable=True, index=True)
    number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), nullable=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    excerpt: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


def _ids_are_never_reused() -> None:
    """An id once handed out names a folder (a repository, a notebook, a space) or is kept by rows that
    outlive what it named (audit events, deliveries, scans), so no table hands it out again: AUTOINCREMENT
    on SQLite, which otherwise reuses the id of a deleted newest row; PostgreSQL's sequences never do.
    Migration 0017 rebuilt the tables made before this was true of all of them."""
    for table in Base.metadata.tables.values():
        key = list(table.primary_key.columns)
        if len(key) == 1 and isinstance(key[0].type, Integer):
            table.dialect_options["sqlite"]["autoincrement"] = True


_ids_are_never_reused()
