"""sheet_layout: the column mapping HR chose for a sheet layout, remembered per tenant

A new table only; no existing row changes. Next month's sheet with the same header words in
the same columns imports with the same mapping (paydash/services/layouts.py).

Revision ID: r15_sheet_layouts
Revises: r17_tenant_timezone
Create Date: 2026-12-04 08:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = "r15_sheet_layouts"
down_revision = "r17_tenant_timezone"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sheet_layout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("all_sheets", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"]),
        sa.ForeignKeyConstraint(["updated_by_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "signature", name="uq_sheet_layout_tenant_signature"),
    )
    with op.batch_alter_table("sheet_layout") as batch_op:
        batch_op.create_index(batch_op.f("ix_sheet_layout_tenant_id"), ["tenant_id"], unique=False)


def downgrade():
    with op.batch_alter_table("sheet_layout") as batch_op:
        batch_op.drop_index(batch_op.f("ix_sheet_layout_tenant_id"))
    op.drop_table("sheet_layout")
