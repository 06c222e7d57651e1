"""A deployer's database outlives the release: the previous release makes and fills it, this
release's `flask db upgrade` takes it to head, and every row is still there and usable.

Each migration has a test of its own step (tests/test_migration_*.py); this one is the whole
chain, on data written by the previous release's own code (taken from git, not rebuilt from
today's models), on PostgreSQL and SQLite.
"""
import hashlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import sqlalchemy as sa
from conftest import ROOT

from paydash.extensions import db

pytestmark = pytest.mark.slow

# The last release that landed (stop 27; its migrations end at r20_upload_blobs, its uploads
# keep their workbook and staged rows in `upload_blob`, its staged rows are format 1). Move it
# on at each release, and fit FILL to that release's own ways (its demo logins, its upload
# steps).
PREVIOUS_RELEASE = "4bcc59c"

FILL = """
import io, sys
sys.path.insert(0, "tests")
from paydash.factory import create_app
from paydash.services import demo
from sheet_builders import template_sheet
app = create_app({"HUEY_IMMEDIATE": True, "WTF_CSRF_ENABLED": False})
with app.app_context():
    made = demo.seed_demo(employees=15, months=3)
# Since issue 16 the demo's passwords are made per install and shown once.
password = next(login["password"] for login in made["logins"] if login["email"] == "hr@demo.paydash")
client = app.test_client()
response = client.post("/login", data={"email": "hr@demo.paydash", "password": password})
assert response.status_code == 302, response.data[:300]
for month in (9, 10):
    form = {"year": "2024", "month": str(month),
            "file": (io.BytesIO(template_sheet(12, seed=month)), f"salary-{month}.xlsx")}
    response = client.post("/uploads", data=form, content_type="multipart/form-data")
    assert response.status_code == 302, response.data[:300]
    upload_id = int(response.headers["Location"].rsplit("/", 1)[1])
    response = client.post(f"/uploads/{upload_id}/confirm", data={"acknowledge_checks": "1"})
    assert response.status_code in (302, 303), response.data[:300]
# Uploaded and checked, not yet confirmed when the deploy comes: its rows are staged.
form = {"year": "2024", "month": "11",
        "file": (io.BytesIO(template_sheet(12, seed=11)), "salary-11.xlsx")}
response = client.post("/uploads", data=form, content_type="multipart/form-data")
assert response.status_code == 302, response.data[:300]
print("PENDING", response.headers["Location"].rsplit("/", 1)[1])
print("HR-PASSWORD", password)
"""


def previous_release(tmp_path):
    """The previous release's files, from git (a clean clone has its history)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", PREVIOUS_RELEASE],
                             capture_output=True)
    if archive.returncode != 0:
        message = f"previous release {PREVIOUS_RELEASE} not in this checkout's git history"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path / "previous"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def run(cwd, url, tmp_path, *args):
    env = dict(os.environ, DATABASE_URL=url, PAYDASH_INSTANCE=str(tmp_path / "instance"),
               HUEY_SQLITE_PATH=str(tmp_path / "huey.db"), SECRET_KEY="release-test")
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, (args, result.stdout[-1500:], result.stderr[-3000:])
    return result


def row_counts(url) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = [t for t in sa.inspect(conn).get_table_names() if t != "alembic_version"]
            return {t: conn.scalar(sa.text(f'SELECT count(*) FROM "{t}"')) for t in tables}
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_the_previous_release_filled_upgrades_with_every_row_kept(backend, tmp_path, request,
                                                                             caplog):
    url = (f"sqlite:///{tmp_path / 'paydash.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    old = previous_release(tmp_path)
    run(old, url, tmp_path, "-m", "flask", "--app", "app", "db", "upgrade")
    filled = run(old, url, tmp_path, "-c", FILL)
    password = filled.stdout.split("HR-PASSWORD ", 1)[1].split()[0]
    pending = int(filled.stdout.split("PENDING ", 1)[1].split()[0])
    before = row_counts(url)
    for table in ("tenant", "user", "employee", "upload", "salary_row", "chart_aggregated_data", "job"):
        assert before.get(table, 0) > 0, f"the previous release left {table} empty: {before}"

    run(ROOT, url, tmp_path, "-m", "flask", "--app", "app", "db", "upgrade")
    after = row_counts(url)
    assert {t: after.get(t) for t in before} == before  # every table of the old schema, every row

    # And the data is usable by this release: the old HR login, the confirmed months.
    from conftest import base_config  # noqa: PLC0415
    from conftest import dispose_app  # noqa: PLC0415
    (tmp_path / "new").mkdir()
    # create_app, not make_app: the schema is the migrations' alone, nothing is created here.
    from paydash.factory import create_app  # noqa: PLC0415
    app = create_app(base_config(tmp_path / "new", url, HUEY_IMMEDIATE=True))
    try:
        client = app.test_client()
        response = client.post("/login", data={"email": "hr@demo.paydash", "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        assert client.get("/uploads").status_code == 200
        summary = client.get("/api/dashboard/summary?period=custom&from=2024-09&to=2024-10")
        assert summary.status_code == 200, summary.get_data(as_text=True)[:300]
        assert "Oct 2024" in summary.get_data(as_text=True)  # the confirmed months are there

        # Every workbook the previous release stored is still the file HR uploaded.
        with app.app_context():
            from paydash.models import Upload  # noqa: PLC0415
            uploads = db.session.scalars(sa.select(Upload)).all()
            assert len(uploads) == before["upload"] >= 3
            assert all(hashlib.sha256(upload.content).hexdigest() == upload.sha256
                       for upload in uploads), [upload.id for upload in uploads]
            db.session.remove()

        # The upload checked before the deploy is confirmed after it, from the rows the
        # previous release staged (not by reading the workbook again).
        with caplog.at_level(logging.INFO, logger="paydash.services.imports"):
            response = client.post(f"/uploads/{pending}/confirm", data={"acknowledge_checks": "1"})
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
        assert not [r for r in caplog.records if "reading the file again" in r.getMessage()]
        with app.app_context():
            status, stored = db.session.execute(sa.text(
                "SELECT status, (SELECT count(*) FROM salary_row WHERE upload_id = :id) "
                "FROM upload WHERE id = :id"), {"id": pending}).one()
        assert (status, stored) == ("confirmed", 12)
    finally:
        dispose_app(app)
    shutil.rmtree(old, ignore_errors=True)
