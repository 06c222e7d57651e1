"""Server-side sessions, two-step sign-in and one-time password-reset links (issue 16)

`user_session` holds one row per signed-in browser (the cookie carries a token whose
sha256 is the row's id). Sessions opened before this revision carry no token and simply
sign their users out once. New columns are nullable or have a server default, so every
existing user and tenant is kept as it was: no two-step sign-in, no reset pending.

Revision ID: r16_sessions
Revises: r19_alerts
Create Date: 2026-12-04 08:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = "r16_sessions"
down_revision = "r19_alerts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("two_step_done", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("user_session") as batch_op:
        batch_op.create_index(batch_op.f("ix_user_session_user_id"), ["user_id"], unique=False)
    # Plain ALTER TABLE ... ADD COLUMN on both databases: SQLite's batch mode would copy and
    # drop "user" and "tenant", which other tables' foreign keys forbid.
    op.add_column("user", sa.Column("totp_secret", sa.String(length=64), nullable=True))
    op.add_column("user", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.add_column("user", sa.Column("recovery_codes", sa.JSON(), nullable=True))
    op.add_column("user", sa.Column("reset_token_hash", sa.String(length=64), nullable=True))
    op.add_column("user", sa.Column("reset_token_expires", sa.DateTime(), nullable=True))
    op.add_column("tenant", sa.Column("require_two_step", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later), for the same reason.
    op.drop_column("tenant", "require_two_step")
    for column in ("reset_token_expires", "reset_token_hash", "recovery_codes", "totp_last_step",
                   "totp_secret"):
        op.drop_column("user", column)
    with op.batch_alter_table("user_session") as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_session_user_id"))
    op.drop_table("user_session")
