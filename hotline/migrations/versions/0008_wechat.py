"""WeChat Official Account channel: one row per message WeChat delivered (its MsgId, or for an
event FromUserName + CreateTime, as the primary key, so a retry cannot run the bot twice, across
app processes) and the access token shared by every process.

Revision ID: 0008
Revises: 0006 (the lead re-chains this after a parallel 0007 at merge)
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_messages",
        sa.Column("dedupe_key", sa.String(160), primary_key=True),
        sa.Column("openid", sa.String(128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        # pending (the bot is on it), replied (passive reply, kept for a retry), sent (through
        # the customer-service API), failed (could not be delivered), none (nothing to say)
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reply", sa.Text()),
    )
    op.create_index("ix_wechat_messages_received_at", "wechat_messages", ["received_at"])
    op.create_table(
        "wechat_access_tokens",
        sa.Column("appid", sa.String(64), primary_key=True),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wechat_access_tokens")
    op.drop_index("ix_wechat_messages_received_at", table_name="wechat_messages")
    op.drop_table("wechat_messages")
