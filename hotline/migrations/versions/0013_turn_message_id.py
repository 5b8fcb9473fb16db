"""Chat turns carry the client's message id: a retried turn (the same id, say after the replica
that handled it died before answering) is answered with what the first handling produced
instead of running again. Unique per conversation, so two replicas finishing the same turn at
once log it once (docs/api.md, "Retrying a chat turn").

On PostgreSQL the unique index is built CONCURRENTLY: a plain CREATE INDEX holds a SHARE lock on
conversation_turns for the whole build, and every turn insert (on every replica, through an
upgrade of a large table) would wait for it. This revision was first shipped with the plain
build and is edited in place: the resulting schema is the same (the column, one valid unique
index of this name), so databases already at 0013 need nothing, and the ones below it get the
non-blocking build. A concurrent build runs outside a transaction, so the column is committed
first; a build that fails (or is cancelled) leaves an invalid index behind, and the next upgrade
drops it and builds it again (the column is then already there). SQLite is as before.

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

INDEX = "ux_conversation_turns_message"
# NULLs never collide: turns without an id (and failed ones) are not constrained
COLUMNS = ["conversation_id", "message_id"]


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        with op.batch_alter_table("conversation_turns") as batch:
            batch.add_column(sa.Column("message_id", sa.String(64)))
        op.create_index(INDEX, "conversation_turns", COLUMNS, unique=True)
        return
    op.add_column("conversation_turns", sa.Column("message_id", sa.String(64)),
                  if_not_exists=True)  # fmt: skip
    with op.get_context().autocommit_block():
        if _invalid_index_left():
            op.drop_index(INDEX, "conversation_turns", postgresql_concurrently=True)
        op.create_index(INDEX, "conversation_turns", COLUMNS, unique=True,
                        postgresql_concurrently=True, if_not_exists=True)  # fmt: skip


def _invalid_index_left() -> bool:
    """An earlier concurrent build of the index failed or was cancelled."""
    query = sa.text(
        "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace"
    )
    return bool(op.get_bind().execute(query, {"name": INDEX}).scalar())


def downgrade() -> None:
    op.drop_index(INDEX, "conversation_turns")
    with op.batch_alter_table("conversation_turns") as batch:
        batch.drop_column("message_id")
