"""Satisfaction ratings given at the end of a conversation, and requests for a person.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "satisfaction_ratings",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("conversation_id", sa.String(160), nullable=False, index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("rating", sa.String(8), nullable=False),  # 满意 / 基本满意 / 不满意
        sa.Column("comment", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "handoff_requests",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("conversation_id", sa.String(160), nullable=False, index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),  # asked / emergency / not_understood
        sa.Column("citizen_text", sa.Text()),
        sa.Column("order_number", sa.String(20)),  # the callback order opened for it
        sa.Column("status", sa.String(16), nullable=False),  # open / taken / closed
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("handoff_requests")
    op.drop_table("satisfaction_ratings")
