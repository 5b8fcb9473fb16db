"""WeChat's remaining parts: what a waiting WeChat citizen was last told about their place in the
queue (so a change is told once, rate-limited), images kept for the citizen's work order, and
phones bound to an openid (with the failed attempts that limit guessing).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("told_position", sa.Integer()))
        batch.add_column(sa.Column("told_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("notices", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        # WeChat pictures waiting for the conversation's next order; when it is stored they
        # move to work_order_attachments (workorders.pictures.attach_pending)
        "pending_pictures",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(160), nullable=False),
        sa.Column("media_type", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_pending_pictures_conversation", "pending_pictures", ["conversation_id", "id"]
    )
    op.create_table(
        "wechat_phone_bindings",
        sa.Column("openid", sa.String(64), primary_key=True),
        sa.Column("phone", sa.String(32), primary_key=True),
        sa.Column("proof", sa.String(40), nullable=False),  # how it was proven: order:NUMBER
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "wechat_bind_attempts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_wechat_bind_attempts_openid", "wechat_bind_attempts", ["openid", "at"])
    op.create_index("ix_wechat_bind_attempts_phone", "wechat_bind_attempts", ["phone", "at"])


def downgrade() -> None:
    op.drop_index("ix_wechat_bind_attempts_phone", table_name="wechat_bind_attempts")
    op.drop_index("ix_wechat_bind_attempts_openid", table_name="wechat_bind_attempts")
    op.drop_table("wechat_bind_attempts")
    op.drop_table("wechat_phone_bindings")
    op.drop_index("ix_pending_pictures_conversation", table_name="pending_pictures")
    op.drop_table("pending_pictures")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("notices")
        batch.drop_column("told_at")
        batch.drop_column("told_position")
