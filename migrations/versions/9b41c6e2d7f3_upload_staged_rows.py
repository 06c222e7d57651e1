"""Upload.staged_rows: the validated rows, kept until HR confirms

The commit inserts these instead of parsing the workbook a second time (paydash/staging.py;
BENCHMARKS.md, "Bulk import"). Nullable: uploads validated before this revision have none
and their commit reads the workbook, as before.

Revision ID: 9b41c6e2d7f3
Revises: 7d2e4b1c9a05
Create Date: 2026-11-24 06:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = "9b41c6e2d7f3"
down_revision = "7d2e4b1c9a05"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("upload") as batch_op:
        batch_op.add_column(sa.Column("staged_rows", sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table("upload") as batch_op:
        batch_op.drop_column("staged_rows")
