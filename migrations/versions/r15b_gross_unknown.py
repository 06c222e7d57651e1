"""Gross pay may be unknown: SalaryRow.gross and ChartAggregatedData.gross nullable (issue 15)

A sheet with net pay and nothing to tell the gross from (no gross column, no fixed salary,
no deductions) imports with gross unknown instead of being refused; NULL is "not in the
sheet", which 0 would misstate as a real figure. Existing rows keep their gross as is.

Revision ID: r15b_gross_unknown
Revises: r13_worker_identity
Create Date: 2026-12-04 09:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = "r15b_gross_unknown"
down_revision = "r13_worker_identity"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(14, 2)
TABLES = ("salary_row", "chart_aggregated_data")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("gross", existing_type=MONEY, nullable=True)


def downgrade():
    # Unknown gross had no other value before: 0, as an import without gross never stored.
    for table in TABLES:
        op.execute(sa.text(f"UPDATE {table} SET gross = 0 WHERE gross IS NULL"))
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("gross", existing_type=MONEY, nullable=False)
