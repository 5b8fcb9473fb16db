"""Conversation log: one row per citizen turn on any channel.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_turns",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("conversation_id", sa.String(160), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("sender", sa.String(128), nullable=False),
        sa.Column("user_text", sa.Text(), nullable=False),
        sa.Column("bot_replies", sa.JSON(), nullable=False),
        sa.Column("intent", sa.String(80)),
        sa.Column("confidence", sa.Float()),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error", sa.String(200)),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_turns_conversation", "conversation_turns", ["conversation_id", "received_at"]
    )
    op.create_index("ix_turns_received", "conversation_turns", ["received_at"])


def downgrade() -> None:
    op.drop_table("conversation_turns")
