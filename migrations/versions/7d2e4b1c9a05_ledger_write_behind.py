"""Ledger write-behind: job events without a foreign key; drop ix_job_queue_state

The timeline's foreign key made PostgreSQL lock the job row for each event it inserted,
a third of the database's work per job when the ledger writes batches (BENCHMARKS.md,
"Ledger cost"); retention deletes events with their job. `ix_job_queue_state` was
redundant: the open-job figures select by state through `ix_job_state_created`.

Revision ID: 7d2e4b1c9a05
Revises: 3c3fd99f389a
Create Date: 2026-11-24 06:00:00
"""
from alembic import op

revision = "7d2e4b1c9a05"
down_revision = "3c3fd99f389a"
branch_labels = None
depends_on = None

# SQLite keeps the foreign key unnamed: batch mode names it by this convention to drop it.
SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("job_event", naming_convention=SQLITE_NAMES) as batch_op:
            batch_op.drop_constraint("fk_job_event_job_id_job", type_="foreignkey")
    else:
        op.drop_constraint("job_event_job_id_fkey", "job_event", type_="foreignkey")
    with op.batch_alter_table("job") as batch_op:
        batch_op.drop_index("ix_job_queue_state")


def downgrade():
    with op.batch_alter_table("job") as batch_op:
        batch_op.create_index("ix_job_queue_state", ["queue", "state"], unique=False)
    with op.batch_alter_table("job_event") as batch_op:
        batch_op.create_foreign_key("job_event_job_id_fkey", "job", ["job_id"], ["id"],
                                    ondelete="CASCADE")
