"""fine-tuning: parameter groups, experiments, instances and jobs

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 12:02:09.563563
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "finetune_experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["namespace_id"], ["namespaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace_id", "name_key", name="uq_finetune_experiment"),
    )
    with op.batch_alter_table("finetune_experiments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finetune_experiments_namespace_id"), ["namespace_id"], unique=False)

    op.create_table(
        "finetune_parameter_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("values", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["namespace_id"], ["namespaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace_id", "name_key", name="uq_finetune_parameter_group"),
    )
    with op.batch_alter_table("finetune_parameter_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finetune_parameter_groups_namespace_id"), ["namespace_id"], unique=False)

    op.create_table(
        "finetune_instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("model_repo_id", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("tier_id", sa.Integer(), nullable=False),
        sa.Column("framework_id", sa.Integer(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["compute_clusters.id"],
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["framework_id"],
            ["runtime_frameworks.id"],
        ),
        sa.ForeignKeyConstraint(["model_repo_id"], ["repos.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["namespace_id"], ["namespaces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["tier_id"],
            ["compute_tiers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace_id", "name_key", name="uq_finetune_instance"),
    )
    with op.batch_alter_table("finetune_instances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finetune_instances_namespace_id"), ["namespace_id"], unique=False)

    op.create_table(
        "finetune_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=True),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("base_repo_id", sa.Integer(), nullable=True),
        sa.Column("base_model", sa.String(length=200), nullable=False),
        sa.Column("base_commit", sa.String(length=40), nullable=False),
        sa.Column("dataset_repo_id", sa.Integer(), nullable=True),
        sa.Column("dataset", sa.String(length=200), nullable=False),
        sa.Column("dataset_commit", sa.String(length=40), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("parameter_group_id", sa.Integer(), nullable=True),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("resolved", sa.Text(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("tier_id", sa.Integer(), nullable=False),
        sa.Column("framework_id", sa.Integer(), nullable=False),
        sa.Column("output_name", sa.String(length=200), nullable=False),
        sa.Column("output_repo_id", sa.Integer(), nullable=True),
        sa.Column("merge", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Text(), nullable=False),
        sa.Column("history", sa.Text(), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("train", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("handle", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["base_repo_id"], ["repos.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["compute_clusters.id"],
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["dataset_repo_id"], ["repos.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["experiment_id"], ["finetune_experiments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["framework_id"],
            ["runtime_frameworks.id"],
        ),
        sa.ForeignKeyConstraint(["instance_id"], ["finetune_instances.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["namespace_id"], ["namespaces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["output_repo_id"], ["repos.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["parameter_group_id"], ["finetune_parameter_groups.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["tier_id"],
            ["compute_tiers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace_id", "name_key", name="uq_finetune_job"),
    )
    with op.batch_alter_table("finetune_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finetune_jobs_experiment_id"), ["experiment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_finetune_jobs_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_finetune_jobs_namespace_id"), ["namespace_id"], unique=False)
        batch_op.create_index("ix_finetune_jobs_state", ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("finetune_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_finetune_jobs_state")
        batch_op.drop_index(batch_op.f("ix_finetune_jobs_namespace_id"))
        batch_op.drop_index(batch_op.f("ix_finetune_jobs_instance_id"))
        batch_op.drop_index(batch_op.f("ix_finetune_jobs_experiment_id"))

    op.drop_table("finetune_jobs")
    with op.batch_alter_table("finetune_instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finetune_instances_namespace_id"))

    op.drop_table("finetune_instances")
    with op.batch_alter_table("finetune_parameter_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finetune_parameter_groups_namespace_id"))

    op.drop_table("finetune_parameter_groups")
    with op.batch_alter_table("finetune_experiments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finetune_experiments_namespace_id"))

    op.drop_table("finetune_experiments")
