"""Migration r20_upload_blobs on a filled database: every workbook and staged blob moves to
`upload_blob` byte for byte, every upload and salary row is kept (salary rows point at the
uploads, with foreign keys on as the app connects), on SQLite and PostgreSQL; downgrade
puts each back on its upload."""
import datetime as dt
import hashlib
import os
import random
import subprocess
import sys

import pytest
import sqlalchemy as sa
from conftest import ROOT
from test_migrations import flask_db
from test_migrations import insert_tenant_and_user

pytestmark = pytest.mark.slow

NOW = dt.datetime(2026, 12, 1, 9, 0)
BEFORE = "r15b_gross_unknown"
# upload id -> (workbook, staged rows): both, a workbook alone, neither (retention took it).
BIG = random.Random(20).randbytes(3 * 1024 * 1024 + 7)
PARTS = {1: (BIG, b"PDROWS1 staged" + bytes(range(256))), 2: (b"PK\x03\x04 small", None),
         3: (None, None)}


def fill(engine) -> None:
    with engine.begin() as conn:
        insert_tenant_and_user(conn, NOW, "hr")
        for upload_id, (content, staged) in PARTS.items():
            conn.execute(sa.text(
                "INSERT INTO upload (id, tenant_id, uploaded_by_id, filename, content, staged_rows, "
                "sha256, size, year, month, status, error_count, warning_count, created_at) VALUES "
                "(:id, 1, 1, 'm.xlsx', :content, :staged, :sha, :size, 2026, :id, :status, 0, 0, :now)"),
                {"id": upload_id, "content": content, "staged": staged,
                 "sha": hashlib.sha256(content or b"").hexdigest(), "size": len(content or b""),
                 "status": "preview" if staged else "confirmed", "now": NOW})
        conn.execute(sa.text(
            "INSERT INTO salary_row (tenant_id, year, month, employee_key, employee_code, "
            "employee_name, department, fixed_salary, ot_hours, ot_pay, late_minutes, "
            "late_deduction, incentive, gross, tds, advance, other_deductions, total_deductions, "
            "net, source, upload_id) VALUES (1, 2026, 2, 'E1', 'E1', 'Asha', 'Sales', 100, 0, 0, 0, "
            "0, 0, 100, 0, 0, 0, 0, 100, 'excel', 2)"))


def counts(engine) -> dict:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar()
                for t in ("tenant", "user", "upload", "salary_row")}


def on_uploads(engine) -> dict:
    with engine.connect() as conn:
        return {row.id: tuple(None if part is None else bytes(part) for part in row[1:])
                for row in conn.execute(sa.text(
                    "SELECT id, content, staged_rows FROM upload ORDER BY id"))}


def in_blobs(engine) -> dict:
    found = {upload_id: [None, None] for upload_id in PARTS}
    with engine.connect() as conn:
        for upload_id, kind, data in conn.execute(sa.text(
                "SELECT upload_id, kind, data FROM upload_blob")):
            found[upload_id][("workbook", "staged").index(kind)] = bytes(data)
    return {upload_id: tuple(parts) for upload_id, parts in found.items()}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_r20_moves_every_workbook_and_staged_blob_and_back(backend, tmp_path, request):
    url = (f"sqlite:///{tmp_path / 'paydash.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    result = flask_db(url, tmp_path, "upgrade", BEFORE)
    assert result.returncode == 0, result.stderr[-2000:]
    engine = sa.create_engine(url)
    try:
        fill(engine)
        before = counts(engine)
        assert on_uploads(engine) == PARTS

        result = flask_db(url, tmp_path, "upgrade", "r20_upload_blobs")
        assert result.returncode == 0, result.stderr[-2000:]
        assert counts(engine) == before == {"tenant": 1, "user": 1, "upload": 3, "salary_row": 1}
        assert in_blobs(engine) == PARTS
        columns = {c["name"] for c in sa.inspect(engine).get_columns("upload")}
        assert not columns & {"content", "staged_rows"}

        result = flask_db(url, tmp_path, "downgrade", BEFORE)
        assert result.returncode == 0, result.stderr[-2000:]
        assert counts(engine) == before
        assert on_uploads(engine) == PARTS
        assert "upload_blob" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


# `flask db` as on a machine whose SQLite is older than 3.35 (Debian 11 has 3.34): no
# ALTER TABLE ... DROP COLUMN there.
OLD_SQLITE = """
import sqlite3, sys
sqlite3.sqlite_version_info = (3, 34, 1)
from flask.cli import main
sys.argv = ["flask", "--app", "app", "db", *sys.argv[1:]]
main()
"""


def test_r20_on_sqlite_before_3_35_empties_the_old_columns_it_cannot_drop(tmp_path):
    url = f"sqlite:///{tmp_path / 'paydash.db'}"
    assert flask_db(url, tmp_path, "upgrade", BEFORE).returncode == 0
    engine = sa.create_engine(url)
    env = dict(os.environ, DATABASE_URL=url, PAYDASH_INSTANCE=str(tmp_path / "instance"),
               HUEY_SQLITE_PATH=str(tmp_path / "huey.db"))
    env.pop("REDIS_URL", None)

    def old_flask_db(*args):
        done = subprocess.run([sys.executable, "-c", OLD_SQLITE, *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    try:
        fill(engine)
        before = counts(engine)
        old_flask_db("upgrade", "r20_upload_blobs")
        assert counts(engine) == before
        assert in_blobs(engine) == PARTS
        assert set(on_uploads(engine).values()) == {(None, None)}   # kept, emptied

        # This release works on that schema: the model maps neither old column.
        from conftest import base_config  # noqa: PLC0415
        from conftest import dispose_app  # noqa: PLC0415

        from paydash.extensions import db  # noqa: PLC0415
        from paydash.factory import create_app  # noqa: PLC0415
        from paydash.models import Upload  # noqa: PLC0415
        (tmp_path / "app").mkdir()
        app = create_app(base_config(tmp_path / "app", url, HUEY_IMMEDIATE=True))
        try:
            with app.app_context():
                assert db.session.get(Upload, 1).content == BIG
                upload = Upload(tenant_id=1, uploaded_by_id=1, filename="n.xlsx", content=b"new",
                                sha256="0" * 64, size=3, year=2026, month=4)
                db.session.add(upload)
                db.session.commit()
                assert db.session.get(Upload, upload.id).content == b"new"
        finally:
            dispose_app(app)

        old_flask_db("downgrade", BEFORE)
        uploads = on_uploads(engine)
        assert {k: uploads[k] for k in PARTS} == PARTS
        assert uploads[4] == (b"new", None)
    finally:
        engine.dispose()
