"""The handoff queue (conversations waiting for or talking with an operator), operators'
presence, and who wrote a conversation turn (an operator's message to the citizen).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OPEN = sa.text("status IN ('pending', 'active')")


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(160), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),  # masked: shown in the queue
        # What the bot collected for a work order, contact data whole: used only to create
        # the order from the conversation (POST /api/v1/handoffs/{id}/order), never listed.
        sa.Column("draft", sa.JSON()),
        sa.Column("operator", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(16)),  # released | closed | cancelled
        sa.CheckConstraint("status IN ('pending', 'active', 'closed')", name="ck_handoffs_status"),
    )
    op.create_index("ix_handoffs_status", "handoffs", ["status", "id"])
    # One open handoff per conversation: a second request joins the first.
    op.create_index(
        "ux_handoffs_open_conversation",
        "handoffs",
        ["conversation_id"],
        unique=True,
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_table(
        "operator_presence",
        sa.Column("operator", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),  # available | away
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("conversation_turns") as batch:
        batch.add_column(sa.Column("operator", sa.String(64)))
    op.create_index("ix_conversation_turns_conversation", "conversation_turns",
                    ["conversation_id", "id"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_conversation_turns_conversation", "conversation_turns")
    with op.batch_alter_table("conversation_turns") as batch:
        batch.drop_column("operator")
    op.drop_table("operator_presence")
    op.drop_index("ux_handoffs_open_conversation", "handoffs")
    op.drop_index("ix_handoffs_status", "handoffs")
    op.drop_table("handoffs")
