"""Settings: defaults, then the TOML file, then CSGHUB_* environment variables.

One frozen Settings object is built at start-up and passed explicitly; nothing is read at import.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from csghub.net.guard import HostPattern

MiB = 1024 * 1024


class ConfigError(Exception):
    """A setting is unknown, of the wrong type, or unusable; the message names the key."""


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("csghub-data")
    host: str = "127.0.0.1"
    port: int = 8080
    # Git over SSH: the port of the built-in SSH server; 0 picks a free one, -1 turns SSH off.
    ssh_port: int = 2222
    # Empty means an SQLite file inside data_dir.
    database_url: str = ""
    # Base URL clients reach the hub on, used in LFS hrefs; empty means derive it from each request.
    public_url: str = ""
    storage: str = "local"
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    # Files at least this large (or matching .gitattributes LFS rules) are kept in LFS storage.
    lfs_threshold: int = 10 * MiB
    # Answer `lfs` in preupload for large and binary files: huggingface_hub then uploads them through
    # Xet (with hf_xet, its default) or the LFS batch API (without). Off makes every client send files
    # inline in the commit request.
    preupload_lfs: bool = True
    # Part size offered for LFS multipart uploads.
    lfs_part_size: int = 64 * MiB
    # Seconds a presigned or signed transfer URL stays valid.
    transfer_url_ttl: int = 3600
    # Xet objects younger than this are never garbage-collected: an upload may still be referencing them.
    xet_gc_grace: int = 86400
    log_level: str = "info"
    # Libraries whose INFO chatter is kept at the hub's log level (it is WARNING otherwise, unless log_level is
    # "debug"): e.g. ["asyncssh", "httpx"]. See docs/operations-metrics.md for the list.
    log_libraries: tuple[str, ...] = ()
    # Prometheus metrics at /metrics, answered to site administrators' tokens only (docs/operations-metrics.md).
    metrics_enabled: bool = True
    # One line per request on stderr: "text", "json" or "off".
    access_log: str = "text"
    # Who may create accounts: "open" (anyone), "invite" (with an invitation code from an admin) or
    # "admin" (only administrators create accounts).
    registration: str = "open"
    # Seconds a browser session lasts after sign-in.
    session_ttl: int = 14 * 86400
    # Failed sign-ins before an account, or an address (any bad password or token), is locked out for
    # `login_lockout` seconds; failures older than the lockout are forgotten.
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 50
    login_lockout: int = 900
    # Requests per minute before 429 Too Many Requests: per access token (or session), and per address
    # for requests without credentials. 0 turns a limit off.
    rate_limit_per_token: int = 6000
    rate_limit_per_address: int = 1200
    # Request bounds, checked before authentication (see docs/configuration.md): JSON control bodies and
    # portal forms; JSON that carries file content (the CSGHub raw and commit APIs);
    # bodies streamed to disk (Hugging Face commits, multipart uploads); the request line and headers.
    max_json_body: int = 1 * MiB
    max_inline_body: int = 64 * MiB
    max_upload_body: int = 50 * 1024 * MiB
    max_header_bytes: int = 64 * 1024
    # All request bodies held in memory at once, across requests (the bounds above are per request).
    max_body_memory: int = 256 * MiB
    # Seconds a client may take to send its headers (or a small body), or pause within a streamed body.
    client_timeout: int = 60
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated addresses
    # or networks, "*" for any): clients' own addresses then count for the audit log and the limits.
    trusted_proxies: str = "127.0.0.1"
    # The endpoint gateway (/endpoints/{owner}/{name}/v1/...): the most tokens one request may ask an
    # endpoint to generate (max_tokens), and the seconds it waits for a replica's answer to begin.
    gateway_max_tokens: int = 4096
    gateway_timeout: int = 600
    # LDAP sign-in (off while ldap_url is empty): passwords of users found under ldap_user_base are
    # checked by binding as them; accounts are created on first sign-in.
    ldap_url: str = ""
    ldap_bind_dn: str = ""
    ldap_bind_password: str = field(default="", repr=False)
    ldap_user_base: str = ""
    ldap_user_filter: str = "(uid={username})"
    ldap_group_base: str = ""
    ldap_start_tls: bool = False
    ldap_ca_file: str = ""
    # OpenID Connect sign-in (off while oidc_issuer is empty): authorization code flow with PKCE; the
    # provider redirects back to {public_url}/api/v1/auth/oidc/callback.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    oidc_scopes: str = "openid profile email groups"
    oidc_username_claim: str = "preferred_username"
    oidc_groups_claim: str = "groups"
    # Organizations that follow the provider's groups, for LDAP and OIDC accounts:
    # "group=org:role; group2=org2:role" (roles read, write, admin). Checked at every sign-in.
    sso_group_map: str = ""
    # Where runtime environments (the frameworks' package sets) are built; empty means data_dir/runtimes.
    runtimes_dir: str = ""
    # Stop every endpoint replica when the hub stops; off, they keep serving and the next start re-adopts them.
    compute_stop_on_shutdown: bool = False
    # Seconds without a request in flight before an autoscaled endpoint goes back to its min replicas.
    compute_scale_down_after: int = 300
    # Dataset viewer (docs/datasets.md). Every push to a dataset's default branch queues a conversion to
    # Parquet (refs/convert/parquet): datasets whose data files pass `dataset_convert_max_bytes` are not
    # converted (the page says why); a conversion gets `dataset_convert_timeout` seconds and
    # `dataset_convert_memory` bytes for DuckDB (it spills the rest to disk), and writes shards of about
    # `dataset_shard_bytes`. At most `dataset_convert_concurrency` conversions run at once.
    dataset_convert_max_bytes: int = 5 * 1024 * MiB
    dataset_convert_timeout: int = 3600
    dataset_convert_memory: int = 1024 * MiB
    dataset_shard_bytes: int = 256 * MiB
    dataset_convert_concurrency: int = 1
    # Search, filter and sort of rows: seconds and DuckDB memory per request. At most `dataset_query_slots`
    # DuckDB queries (these and the SQL console's) run at once; others wait their timeout, then get a 429.
    dataset_query_timeout: int = 10
    dataset_query_slots: int = 4
    dataset_query_memory: int = 512 * MiB
    # The SQL console: seconds and memory per query, rows shown, rows a CSV/Parquet download may hold.
    dataset_sql_timeout: int = 10
    dataset_sql_memory: int = 256 * MiB
    dataset_sql_max_rows: int = 1000
    dataset_sql_export_rows: int = 1_000_000
    # The pull-through cache (docs/mirroring.md): a cached repository asked for again more than this many
    # seconds after its last fetch from the upstream is fetched again in the background.
    proxy_refresh_seconds: int = 600
    # Fine-tuning (docs/finetune.md): at most `finetune_concurrency` training jobs run at once on this hub; a
    # job gets `finetune_timeout` seconds in all (its attempts after a crash included); a training or
    # evaluation file may hold `finetune_data_max_bytes`.
    finetune_concurrency: int = 1
    finetune_timeout: int = 24 * 3600
    finetune_data_max_bytes: int = 50 * MiB
    # Spaces (docs/spaces.md): seconds without a visit before a running space sleeps (its owner may set
    # another; 0 = never), woken by the next visit.
    space_sleep_seconds: int = 48 * 3600
    # A space's requirements layer (its requirements.txt over its SDK's environment) that no space uses any
    # more is removed this long after it was last used; 0 = never.
    space_layer_keep_seconds: int = 7 * 86400
    # Mirrors (docs/mirroring.md): who may create one ("admins": site administrators; "users": anyone who
    # may create repositories in the target namespace); a sync that failed for a passing cause is tried
    # again after `mirror_retry_seconds`, then twice that (3 attempts in all).
    mirror_creators: str = "admins"
    mirror_retry_seconds: int = 30
    # Outbound connections (mirror sources, the pull-through cache's upstream, webhooks): loopback, private,
    # link-local, multicast and reserved addresses are refused unless the host or address is in
    # `outbound_allow_hosts` ("hub.example.com", "*.example.com", "10.0.0.5", "10.0.0.0/8").
    # `outbound_allow_private` opens private and loopback networks (never link-local: cloud metadata).
    # `outbound_deny_hosts` refuses hosts or networks whatever they resolve to, and wins over allow.
    # Lists: a TOML array, or comma-separated in CSGHUB_* variables.
    outbound_allow_hosts: tuple[str, ...] = ()
    outbound_deny_hosts: tuple[str, ...] = ()
    outbound_allow_private: bool = False
    # `csghub doctor` (docs/doctor.md) reports a problem when the data directory's file system has less
    # free space than this many bytes.
    doctor_min_free_bytes: int = 1024 * MiB
    # Webhooks (docs/webhooks.md): a failed delivery is tried again after each of `webhook_retry_delays`
    # (seconds, in turn; then it is marked failed); a receiver has `webhook_timeout` seconds to answer, of
    # which the first `webhook_response_excerpt` bytes are kept in the delivery log; a payload larger than
    # `webhook_max_payload` bytes is cut (its refs, a comment's text); each user has at most
    # `webhook_max_per_user` webhooks, each keeps its last `webhook_keep_deliveries` deliveries, and at most
    # `webhook_concurrency` deliveries are sent at once. Targets pass the outbound rules below.
    webhook_retry_delays: tuple[str, ...] = ("30", "120", "600", "3600", "21600")
    webhook_timeout: int = 10
    webhook_response_excerpt: int = 2048
    webhook_max_payload: int = 65536
    webhook_max_per_user: int = 50
    webhook_keep_deliveries: int = 200
    webhook_concurrency: int = 4
    # Upload scanning (docs/scanning.md): pickle-based files (.bin, .pt, .pkl, torch's zip format...) pushed by
    # any door are scanned for imports that run code when loaded. Off the request path by default; with
    # `scan_block_dangerous`, a push or commit adding a file with a dangerous import is refused before its
    # ref moves, scanning inline files up to `scan_inline_max_bytes` (larger ones are scanned afterwards).
    scan_enabled: bool = True
    scan_block_dangerous: bool = False
    scan_inline_max_bytes: int = 1024 * MiB
    # Generated into data_dir on first start when empty; never shipped as a default.
    secret_key: str = field(default="", repr=False)

    @property
    def repos_dir(self) -> Path:
        return self.data_dir / "repos"

    @property
    def hooks_dir(self) -> Path:
        """The hub's git hooks, which every push it serves runs (not the repository's own hooks folder)."""
        return self.data_dir / "hooks"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @property
    def runtimes_path(self) -> Path:
        return Path(self.runtimes_dir).expanduser().resolve() if self.runtimes_dir else self.data_dir / "runtimes"

    @property
    def compute_dir(self) -> Path:
        return self.data_dir / "compute"

    @property
    def finetune_dir(self) -> Path:
        """Fine-tune jobs' work folders: their data, checkpoints and results until published."""
        return self.data_dir / "finetune"

    @property
    def datasets_dir(self) -> Path:
        """The dataset viewer's Parquet shards kept as local files, and its conversion jobs' work folders."""
        return self.data_dir / "datasets"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'csghub.db').resolve()}"


_FIELDS = {f.name: f for f in fields(Settings)}
_ENV_PREFIX = "CSGHUB_"
# Environment variables that start with the prefix but are not settings.
_ENV_NOT_SETTINGS = {"CSGHUB_CONFIG", "CSGHUB_DOMAIN", "CSGHUB_TOKEN", "CSGHUB_DISABLE_XNET"}


def _coerce(key: str, value: Any) -> Any:
    kind = _FIELDS[key].type
    try:
        if kind in ("int", int):
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind in ("bool", bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind in ("Path", Path):
            return Path(str(value))
        if kind in ("str", str):
            if not isinstance(value, str | int | float):
                raise ValueError(value)
            return str(value)
        if kind == "tuple[str, ...]":  # a list: a TOML array, or comma-separated text
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
                raise ValueError(value)
            return tuple(item.strip() for item in items if item.strip())
    except (TypeError, ValueError):
        raise ConfigError(f"Setting '{key}' has an invalid value {value!r} (expected {kind})") from None
    return value


def _from_mapping(values: Mapping[str, Any], origin: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in _FIELDS:
            raise ConfigError(f"Unknown setting '{key}' in {origin}")
        out[key] = _coerce(key, value)
    return out


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    values = {
        key[len(_ENV_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(_ENV_PREFIX) and key not in _ENV_NOT_SETTINGS
    }
    return _from_mapping(values, "the environment (CSGHUB_*)")


def load_settings(
    environ: Mapping[str, str],
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build Settings; `path` (or CSGHUB_CONFIG) names an optional TOML file."""
    merged: dict[str, Any] = {}
    config_path = path or (Path(environ["CSGHUB_CONFIG"]) if environ.get("CSGHUB_CONFIG") else None)
    if config_path is not None:
        try:
            with open(config_path, "rb") as fh:
                merged.update(_from_mapping(tomllib.load(fh), str(config_path)))
        except FileNotFoundError:
            raise ConfigError(f"Config file '{config_path}' does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Config file '{config_path}' is not valid TOML: {exc}") from None
    merged.update(_from_environ(environ))
    merged.update(_from_mapping({k: v for k, v in (overrides or {}).items() if v is not None}, "arguments"))
    # Absolute, because git hooks and other helper processes run in other working directories.
    merged["data_dir"] = Path(merged.get("data_dir", _FIELDS["data_dir"].default)).expanduser().resolve()
    settings = Settings(**merged)
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if settings.storage not in ("local", "s3"):
        raise ConfigError(f"Setting 'storage' must be 'local' or 's3', not '{settings.storage}'")
    if settings.storage == "s3" and not settings.s3_bucket:
        raise ConfigError("Setting 's3_bucket' is required when storage is 's3'")
    if not -1 <= settings.ssh_port < 65536:
        raise ConfigError(f"Setting 'ssh_port' must be between -1 (off) and 65535, not {settings.ssh_port}")
    if not 0 < settings.port < 65536:
        raise ConfigError(f"Setting 'port' must be between 1 and 65535, not {settings.port}")
    if settings.lfs_part_size < 5 * MiB:
        raise ConfigError("Setting 'lfs_part_size' must be at least 5 MiB (the S3 minimum)")
    if settings.registration not in ("open", "invite", "admin"):
        raise ConfigError(f"Setting 'registration' must be 'open', 'invite' or 'admin', not '{settings.registration}'")
    for key in ("session_ttl", "login_max_failures_per_account", "login_max_failures_per_address", "login_lockout"):
        if getattr(settings, key) < 1:
            raise ConfigError(f"Setting '{key}' must be at least 1")
    for key in (
        "max_json_body",
        "max_inline_body",
        "max_upload_body",
        "max_header_bytes",
        "max_body_memory",
        "client_timeout",
        "gateway_max_tokens",
        "gateway_timeout",
        "compute_scale_down_after",
        "dataset_convert_max_bytes",
        "dataset_convert_timeout",
        "dataset_convert_memory",
        "dataset_shard_bytes",
        "dataset_convert_concurrency",
        "dataset_query_timeout",
        "dataset_query_slots",
        "dataset_query_memory",
        "dataset_sql_timeout",
        "dataset_sql_memory",
        "dataset_sql_max_rows",
        "dataset_sql_export_rows",
        "finetune_concurrency",
        "finetune_timeout",
        "finetune_data_max_bytes",
        "proxy_refresh_seconds",
        "mirror_retry_seconds",
        "webhook_timeout",
        "webhook_response_excerpt",
        "webhook_max_payload",
        "webhook_max_per_user",
        "webhook_keep_deliveries",
        "webhook_concurrency",
        "scan_inline_max_bytes",
    ):
        if getattr(settings, key) < 1:
            raise ConfigError(f"Setting '{key}' must be at least 1")
    try:
        retry_delays(settings)
    except ValueError:
        raise ConfigError(
            "Setting 'webhook_retry_delays' must list seconds (0 or more) between attempts, "
            f"not {settings.webhook_retry_delays!r}"
        ) from None
    if settings.access_log not in ("text", "json", "off"):
        raise ConfigError(f"Setting 'access_log' must be 'text', 'json' or 'off', not '{settings.access_log}'")
    if settings.mirror_creators not in ("admins", "users"):
        raise ConfigError("Setting 'mirror_creators' must be 'admins' or 'users'")
    for key in ("space_sleep_seconds", "space_layer_keep_seconds"):
        if getattr(settings, key) < 0:
            raise ConfigError(f"Setting '{key}' must be 0 (never) or more")
    if settings.max_body_memory < max(settings.max_json_body, settings.max_inline_body):
        raise ConfigError("Setting 'max_body_memory' must be at least 'max_json_body' and 'max_inline_body'")
    for key in ("rate_limit_per_token", "rate_limit_per_address"):
        if getattr(settings, key) < 0:
            raise ConfigError(f"Setting '{key}' must be 0 (off) or more")
    for key in ("outbound_allow_hosts", "outbound_deny_hosts"):
        for pattern in getattr(settings, key):
            try:
                HostPattern.parse(pattern)
            except ValueError as exc:
                raise ConfigError(f"Setting '{key}' is invalid: {exc}") from None
    try:
        parse_group_map(settings.sso_group_map)
    except ValueError as exc:
        raise ConfigError(f"Setting 'sso_group_map' is invalid: {exc}") from None
    if settings.oidc_issuer and not settings.oidc_client_id:
        raise ConfigError("Setting 'oidc_client_id' is required when 'oidc_issuer' is set")
    if settings.ldap_url and not settings.ldap_user_base:
        raise ConfigError("Setting 'ldap_user_base' is required when 'ldap_url' is set")


def retry_delays(settings: Settings) -> tuple[float, ...]:
    """webhook_retry_delays as seconds; ValueError when one is not a number of 0 or more."""
    delays = tuple(float(text) for text in settings.webhook_retry_delays)
    if any(not 0 <= delay < 10**7 for delay in delays):
        raise ValueError(delays)
    return delays


def parse_group_map(text: str) -> dict[str, list[tuple[str, str]]]:
    """ "group=org:role; ..." -> {group: [(org, role), ...]}; a group may feed several organizations."""
    mapping: dict[str, list[tuple[str, str]]] = {}
    for item in filter(None, (part.strip() for part in text.replace(",", ";").split(";"))):
        group, eq, target = item.partition("=")
        org, colon, role = target.strip().partition(":")
        if not eq or not group.strip() or not org or not colon or role not in ("read", "write", "admin"):
            raise ValueError(f"expected 'group=org:role' with role read, write or admin, not {item!r}")
        mapping.setdefault(group.strip(), []).append((org.strip(), role))
    return mapping


def prepare_data_dir(settings: Settings) -> Settings:
    """Create the data directory layout and the secret key; fatal if the directory is unwritable."""
    try:
        for folder in (settings.data_dir, settings.repos_dir, settings.blobs_dir, settings.tmp_dir):
            folder.mkdir(parents=True, exist_ok=True)
        probe = settings.tmp_dir / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"Setting 'data_dir': '{settings.data_dir}' is not writable ({exc})") from None
    if settings.secret_key:
        return settings
    key_file = settings.data_dir / "secret_key"
    if not key_file.exists():
        # Written beside, then renamed, so a concurrent start never reads a half-written key.
        tmp = key_file.with_name(f".secret_key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, key_file)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return dataclasses.replace(settings, secret_key=key_file.read_text().strip())
