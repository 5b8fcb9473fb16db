"""Chat turns carry the client's message id: a retried turn (the same id, say after the replica
that handled it died before answering) is answered with what the first handling produced
instead of running again. Unique per conversation, so two replicas finishing the same turn at
once log it once (docs/api.md, "Retrying a chat turn").

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_turns") as batch:
        batch.add_column(sa.Column("message_id", sa.String(64)))
    # NULLs never collide: turns without an id (and failed ones) are not constrained
    op.create_index("ux_conversation_turns_message", "conversation_turns",
                    ["conversation_id", "message_id"], unique=True)  # fmt: skip


def downgrade() -> None:
    op.drop_index("ux_conversation_turns_message", "conversation_turns")
    with op.batch_alter_table("conversation_turns") as batch:
        batch.drop_column("message_id")
