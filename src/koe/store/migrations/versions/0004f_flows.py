"""flow versions and queue routing options

Revision ID: 0004f
Revises: 0003
Create Date: 2026-11-25 10:00:00.000000
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import koe.store.base

revision = "0004f"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_flow_versions",
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", koe.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["call_flows.id"],
            name=op.f("fk_call_flow_versions_flow_id_call_flows"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_call_flow_versions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_flow_versions")),
        sa.UniqueConstraint(
            "flow_id", "version", name=op.f("uq_call_flow_versions_flow_id_version")
        ),
    )
    with op.batch_alter_table("call_flow_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_call_flow_versions_flow_id"), ["flow_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_call_flow_versions_tenant_id"), ["tenant_id"], unique=False
        )
    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("routing", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )

    # The flows saved so far: their current version is the first one on record.
    conn = op.get_bind()
    flows = sa.table(
        "call_flows",
        sa.column("id", sa.String),
        sa.column("tenant_id", sa.String),
        sa.column("version", sa.Integer),
        sa.column("document", sa.JSON),
    )
    versions = sa.table(
        "call_flow_versions",
        sa.column("id", sa.String),
        sa.column("tenant_id", sa.String),
        sa.column("flow_id", sa.String),
        sa.column("version", sa.Integer),
        sa.column("document", sa.JSON),
        sa.column("note", sa.String),
        sa.column("created_at", koe.store.base.UTCDateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "tenant_id": r.tenant_id,
            "flow_id": r.id,
            "version": r.version,
            "document": r.document,
            "note": "",
            "created_at": now,
        }
        for r in conn.execute(sa.select(flows))
    ]
    if rows:
        op.bulk_insert(versions, rows)


def downgrade() -> None:
    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.drop_column("routing")
    with op.batch_alter_table("call_flow_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_flow_versions_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_call_flow_versions_flow_id"))
    op.drop_table("call_flow_versions")
