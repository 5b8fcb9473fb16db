"""Phone calls: the caller's number the PBX registered, and how each call ended.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_outcomes",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16)),  # audiosocket | websocket
        sa.Column("caller_number", sa.String(32)),
        sa.Column("outcome", sa.String(16)),  # NULL while up; completed|transfer|hangup|refused
        sa.Column("reason", sa.String(32)),
        sa.Column("queue", sa.String(64)),
        sa.Column("work_order", sa.String(20)),
        sa.Column("turns", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("transcript", sa.JSON()),
        sa.Column("registered_at", sa.DateTime(timezone=True)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_call_outcomes_ended", "call_outcomes", ["ended_at"])


def downgrade() -> None:
    op.drop_table("call_outcomes")
