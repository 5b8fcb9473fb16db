"""Work orders: orders, their append-only timeline, links, SLA reminder ledger, day counters.

Tables are prefixed work_order(s) so they never collide with Rasa's own `events` table when the
tracker store shares the PostgreSQL database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _clock(prefix: str) -> list[sa.Column]:
    return [
        sa.Column(f"{prefix}_basis", sa.String(8)),
        _ts(f"{prefix}_started_at"),
        _ts(f"{prefix}_yellow_at"),
        _ts(f"{prefix}_orange_at"),
        _ts(f"{prefix}_due"),
    ]


def upgrade() -> None:
    op.create_table(
        "work_orders",
        sa.Column("id", ID, primary_key=True),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("idempotency_key", sa.String(128)),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("citizen_name", sa.String(40)),
        sa.Column("citizen_phone", sa.String(20)),
        sa.Column("wechat_openid", sa.String(64)),
        sa.Column("request_text", sa.Text(), nullable=False),
        sa.Column("summary", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("category", sa.String(40)),
        sa.Column("department", sa.String(80)),
        sa.Column("co_departments", sa.JSON(), nullable=False),
        sa.Column("level", sa.String(8)),
        sa.Column("district", sa.String(40)),
        sa.Column("address", sa.String(200)),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("satisfaction", sa.String(8)),
        sa.Column("conversation_id", sa.String(160)),
        sa.Column("merged_into", sa.String(20)),
        sa.Column("redo_count", sa.Integer(), nullable=False),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        _ts("dispatched_at"),
        _ts("signed_at"),
        _ts("replied_at"),
        _ts("closed_at"),
        _ts("visited_at"),
        *_clock("sign"),
        *_clock("reply"),
        sa.UniqueConstraint("number", name="uq_work_orders_number"),
        sa.UniqueConstraint("idempotency_key", name="uq_work_orders_idempotency_key"),
        sa.ForeignKeyConstraint(
            ["merged_into"], ["work_orders.number"], name="fk_work_orders_merged_into"
        ),
    )
    op.create_index("ix_work_orders_status_created", "work_orders", ["status", "created_at"])
    op.create_index("ix_work_orders_department_status", "work_orders", ["department", "status"])
    op.create_index("ix_work_orders_created", "work_orders", ["created_at"])
    op.create_index("ix_work_orders_phone", "work_orders", ["citizen_phone"])
    op.create_index("ix_work_orders_conversation", "work_orders", ["conversation_id"])
    op.create_index("ix_work_orders_sign_yellow", "work_orders", ["status", "sign_yellow_at"])
    op.create_index("ix_work_orders_reply_yellow", "work_orders", ["status", "reply_yellow_at"])

    op.create_table(
        "work_order_events",
        sa.Column("id", ID, primary_key=True),
        sa.Column("order_id", ID, sa.ForeignKey("work_orders.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        _ts("at", nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("actor_role", sa.String(8), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16)),
        sa.Column("note", sa.Text()),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.UniqueConstraint("order_id", "seq", name="uq_work_order_events_seq"),
    )
    op.create_index("ix_work_order_events_action_at", "work_order_events", ["action", "at"])

    op.create_table(
        "work_order_links",
        sa.Column("id", ID, primary_key=True),
        sa.Column("order_id", ID, sa.ForeignKey("work_orders.id"), nullable=False),
        sa.Column("related_id", ID, sa.ForeignKey("work_orders.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _ts("created_at", nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.UniqueConstraint("order_id", "related_id", "kind", name="uq_work_order_links"),
    )
    op.create_index("ix_work_order_links_related", "work_order_links", ["related_id"])

    op.create_table(
        "work_order_reminders",
        sa.Column("id", ID, primary_key=True),
        sa.Column("order_id", ID, sa.ForeignKey("work_orders.id"), nullable=False),
        sa.Column("clock", sa.String(8), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        _ts("due_at", nullable=False),
        _ts("at", nullable=False),
        sa.UniqueConstraint("order_id", "clock", "level", "due_at", name="uq_work_order_reminders"),
    )

    op.create_table(
        "work_order_counters",
        sa.Column("day", sa.String(8), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
    )

    _make_events_append_only()


def _make_events_append_only() -> None:
    """The timeline is evidence: the database itself refuses UPDATE and DELETE of an event."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION work_order_events_immutable() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'work_order_events are append-only (%)', TG_OP;
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER work_order_events_append_only "
            "BEFORE UPDATE OR DELETE ON work_order_events "
            "FOR EACH ROW EXECUTE FUNCTION work_order_events_immutable()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER work_order_events_no_{verb.lower()} "
                f"BEFORE {verb} ON work_order_events "
                "BEGIN SELECT RAISE(ABORT, 'work_order_events are append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS work_order_events_append_only ON work_order_events")
        op.execute("DROP FUNCTION IF EXISTS work_order_events_immutable()")
    op.drop_table("work_order_counters")
    op.drop_table("work_order_reminders")
    op.drop_table("work_order_links")
    op.drop_table("work_order_events")
    op.drop_table("work_orders")
