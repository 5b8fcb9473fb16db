"""Files a department attaches to a step of a work order (办结 reply, 退单 evidence…).

Stored in the database (size-limited by HOTLINE_ATTACHMENT_MAX_BYTES) so that every app
replica serves them and a backup of the database is a backup of the files.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "work_order_attachments",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("order_id", _ID, sa.ForeignKey("work_orders.id"), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),  # the timeline step it belongs to
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(120), nullable=False),
    )
    op.create_index("ix_work_order_attachments_order", "work_order_attachments",
                    ["order_id", "event_seq"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_work_order_attachments_order", "work_order_attachments")
    op.drop_table("work_order_attachments")
