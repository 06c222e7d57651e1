"""An upload's workbook and staged rows move to a table of their own (upload_blob)

SQLite rewrites a whole row on every UPDATE: with the workbook in the upload's row, each
change of the upload's status or preview held the workbook in the worker's memory for a
moment (232 -> 360 MB for a 64 MB workbook). Each part becomes a row of `upload_blob`
(kind "workbook" or "staged"); every stored workbook and staged blob is copied there,
byte for byte, before the two columns are dropped. Downgrade copies them back.

Revision ID: r20_upload_blobs
Revises: r15b_gross_unknown
Create Date: 2026-12-05 04:00:00
"""
import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "r20_upload_blobs"
down_revision = "r15b_gross_unknown"
branch_labels = None
depends_on = None

PARTS = (("workbook", "content"), ("staged", "staged_rows"))


def upgrade():
    op.create_table(
        "upload_blob",
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["upload_id"], ["upload.id"]),
        sa.PrimaryKeyConstraint("upload_id", "kind"),
    )
    for kind, column in PARTS:
        op.execute(f"INSERT INTO upload_blob (upload_id, kind, data) SELECT id, '{kind}', {column} "
                   f"FROM upload WHERE {column} IS NOT NULL")
    if _keeps_columns():
        # SQLite before 3.35 cannot drop a column: the two stay, emptied and unmapped, so
        # an UPDATE of an upload rewrites no blob there either.
        op.execute("UPDATE upload SET content = NULL, staged_rows = NULL")
        return
    # Not in batch mode: on SQLite that copies the table, and dropping the old one with
    # foreign keys on (as the app connects) fails where salary rows point at uploads.
    # SQLite drops a plain column itself since 3.35.
    op.drop_column("upload", "staged_rows")
    op.drop_column("upload", "content")


def _keeps_columns() -> bool:
    return (op.get_bind().dialect.name == "sqlite"
            and sqlite3.sqlite_version_info < (3, 35, 0))


def downgrade():
    kept = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("upload")}
    for _kind, column in PARTS:
        if column not in kept:   # kept by an upgrade on SQLite before 3.35
            op.add_column("upload", sa.Column(column, sa.LargeBinary(), nullable=True))
    for kind, column in PARTS:
        op.execute(f"UPDATE upload SET {column} = (SELECT data FROM upload_blob "
                   f"WHERE upload_blob.upload_id = upload.id AND upload_blob.kind = '{kind}')")
    op.drop_table("upload_blob")
