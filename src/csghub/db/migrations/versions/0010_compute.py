"""compute: clusters, tiers, runtime frameworks, instances with their replicas, events and usage

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:00:00
"""

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The built-in sets of runtime/frameworks.py as this revision ships them (the hub keeps the records in
# step with that module when it starts). torch pinned to the CPU wheel: a bare `torch` pulls CUDA.
_SERVING = ["torch==2.13.0", "transformers[serving]==5.24.0", "huggingface_hub==2.4.0", "tokenizers==0.23.3"]
_CHAT = ["text-generation", "text2text-generation", "conversational"]


def upgrade() -> None:
    clusters = op.create_table(
        "compute_clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    tiers = op.create_table(
        "compute_tiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("cpus", sa.Float(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("gpus", sa.Integer(), nullable=False),
        sa.Column("gpu_type", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["cluster_id"], ["compute_clusters.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cluster_id", "name", name="uq_compute_tier_name"),
    )
    frameworks = op.create_table(
        "runtime_frameworks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("engine", sa.String(length=50), nullable=False),
        sa.Column("needs_gpu", sa.Boolean(), nullable=False),
        sa.Column("tasks", sa.Text(), nullable=False),
        sa.Column("packages", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("build_handle", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "version", name="uq_runtime_framework"),
    )
    op.create_table(
        "compute_instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("repo_id", sa.Integer(), nullable=True),
        sa.Column("revision", sa.String(length=200), nullable=False),
        sa.Column("commit", sa.String(length=40), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("tier_id", sa.Integer(), nullable=False),
        sa.Column("framework_id", sa.Integer(), nullable=False),
        sa.Column("min_replicas", sa.Integer(), nullable=False),
        sa.Column("max_replicas", sa.Integer(), nullable=False),
        sa.Column("visibility", sa.String(length=10), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("desired", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["cluster_id"], ["compute_clusters.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["framework_id"], ["runtime_frameworks.id"]),
        sa.ForeignKeyConstraint(["namespace_id"], ["namespaces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["repo_id"], ["repos.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tier_id"], ["compute_tiers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "namespace_id", "name_key", name="uq_compute_instance_name"),
    )
    with op.batch_alter_table("compute_instances", schema=None) as batch_op:
        batch_op.create_index("ix_compute_instances_desired_state", ["desired", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_compute_instances_namespace_id"), ["namespace_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_compute_instances_repo_id"), ["repo_id"], unique=False)
    op.create_table(
        "compute_replicas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("handle", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=300), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("startup_failures", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("not_before", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["compute_instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id", "generation", "index", name="uq_compute_replica"),
    )
    op.create_table(
        "compute_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["compute_instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("compute_events", schema=None) as batch_op:
        batch_op.create_index("ix_compute_events_instance", ["instance_id", "id"], unique=False)
    op.create_table(
        "compute_usage",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms_sum", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["compute_instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_id", "user_id", "day"),
    )
    with op.batch_alter_table("compute_usage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compute_usage_user_id"), ["user_id"], unique=False)
    _seed(clusters, tiers, frameworks)


def _seed(clusters: sa.Table, tiers: sa.Table, frameworks: sa.Table) -> None:
    """The local cluster always exists, with two CPU tiers; the built-in frameworks start unbuilt."""
    now = datetime(2026, 12, 1)
    op.bulk_insert(
        clusters,
        [
            {
                "id": 1,
                "name": "local",
                "kind": "local",
                "address": "",
                "region": "local",
                "enabled": True,
                "created_at": now,
            }
        ],
    )
    op.bulk_insert(
        tiers,
        [
            {
                "cluster_id": 1,
                "name": "cpu-1",
                "cpus": 1.0,
                "memory_mb": 2048,
                "gpus": 0,
                "gpu_type": "",
                "enabled": True,
            },
            {
                "cluster_id": 1,
                "name": "cpu-2",
                "cpus": 2.0,
                "memory_mb": 4096,
                "gpus": 0,
                "gpu_type": "",
                "enabled": True,
            },
        ],
    )
    seeded = [
        ("transformers", "transformers", False, _CHAT, _SERVING),
        ("embeddings", "embeddings", False, ["feature-extraction", "sentence-similarity"], _SERVING),
        ("vllm", "vllm", True, _CHAT, ["vllm==0.33.0"]),
    ]
    op.bulk_insert(
        frameworks,
        [
            {
                "name": name,
                "version": "1",
                "engine": engine,
                "needs_gpu": gpu,
                "tasks": json.dumps(tasks),
                "packages": json.dumps(packages),
                "state": "absent",
                "reason": "",
                "enabled": True,
                "build_handle": "",
                "updated_at": now,
            }
            for name, engine, gpu, tasks, packages in seeded
        ],
    )
    # PostgreSQL's sequence must move past the explicit id given to the local cluster.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval('compute_clusters_id_seq', (SELECT max(id) FROM compute_clusters))")


def downgrade() -> None:
    with op.batch_alter_table("compute_usage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compute_usage_user_id"))
    op.drop_table("compute_usage")
    with op.batch_alter_table("compute_events", schema=None) as batch_op:
        batch_op.drop_index("ix_compute_events_instance")
    op.drop_table("compute_events")
    op.drop_table("compute_replicas")
    with op.batch_alter_table("compute_instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compute_instances_repo_id"))
        batch_op.drop_index(batch_op.f("ix_compute_instances_namespace_id"))
        batch_op.drop_index("ix_compute_instances_desired_state")
    op.drop_table("compute_instances")
    op.drop_table("runtime_frameworks")
    op.drop_table("compute_tiers")
    op.drop_table("compute_clusters")
