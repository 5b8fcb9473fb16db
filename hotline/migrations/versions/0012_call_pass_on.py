"""Phone calls spread over several speech processes: a call registered with pass_on is handed
back to the dialplan at once by a full process (outcome refused, reason "full"), which then
tries the next one (docs/voice.md, "Several speech processes").

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_outcomes") as batch:
        batch.add_column(sa.Column("pass_on", sa.Boolean()))


def downgrade() -> None:
    with op.batch_alter_table("call_outcomes") as batch:
        batch.drop_column("pass_on")
