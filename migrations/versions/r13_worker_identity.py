"""Worker identity per process start: Worker.process_key and Worker.machine (issue 13)

Worker ids were "host:pid": cloned VMs and containers share hostnames and PIDs, so two
consumers shared a row or declared each other's jobs dead. New rows are "host:pid:key"
with the key in `process_key`; `machine` names the machine, boot and PID namespace where
the pid can be looked up. Existing rows keep their id, get a random key of their own and
no machine, so they are judged by their lease alone.

Revision ID: r13_worker_identity
Revises: 9b41c6e2d7f3
Create Date: 2026-12-04 08:40:00
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = "r13_worker_identity"
down_revision = "9b41c6e2d7f3"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("worker") as batch_op:
        batch_op.add_column(sa.Column("process_key", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("machine", sa.String(length=32), nullable=True))
    worker = sa.table("worker", sa.column("id", sa.String), sa.column("process_key", sa.String))
    conn = op.get_bind()
    for (worker_id,) in conn.execute(sa.select(worker.c.id)).all():
        conn.execute(sa.update(worker).where(worker.c.id == worker_id)
                     .values(process_key=uuid.uuid4().hex))
    with op.batch_alter_table("worker") as batch_op:
        batch_op.create_index("ix_worker_process_key", ["process_key"], unique=True)


def downgrade():
    with op.batch_alter_table("worker") as batch_op:
        batch_op.drop_index("ix_worker_process_key")
        batch_op.drop_column("machine")
        batch_op.drop_column("process_key")
