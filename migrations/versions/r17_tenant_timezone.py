"""Tenant.timezone: the clock every page of a tenant shows its times in

Existing tenants get Asia/Kolkata, the zone Paydash's users are in; an admin can change it.
The database keeps storing naive UTC; only what pages show changes.

Revision ID: r17_tenant_timezone
Revises: r16_sessions
Create Date: 2026-12-04 08:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = "r17_tenant_timezone"
down_revision = "r16_sessions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tenant") as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(64), nullable=False,
                                      server_default="Asia/Kolkata"))


def downgrade():
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later): a batch copy of `tenant`
    # would drop the table that other tables' foreign keys point at, which SQLite refuses.
    op.drop_column("tenant", "timezone")
