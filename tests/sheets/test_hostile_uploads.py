"""Every hostile or broken file from tests/hostile_files.py, uploaded through the real app.

One app serves the whole module, so a file that breaks something breaks the cases after
it too. After each upload a normal request and a normal upload must still work.
"""
import html
import io
import pathlib
import re

import pytest
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import login
from conftest import make_app
from hostile_files import CASES
from hostile_files import valid_xlsx

from paydash.extensions import db
from paydash.models import Upload

# Contents of files outside the app that an entity or a path could try to pull in.
_HOSTNAME = pathlib.Path("/etc/hostname").read_text().strip() if pathlib.Path("/etc/hostname").exists() else ""
# What an entity pointing outside the file would pull in. A short host name ("vm") is left
# out: as a plain substring it turns up in ordinary page text and proves nothing.
OUTSIDE_FILES = ("root:x:0:0", *([_HOSTNAME] if len(_HOSTNAME) >= 6 else []))


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    app = make_app(base_config(tmp, f"sqlite:///{tmp / 'paydash.db'}", HUEY_IMMEDIATE=True))
    People(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def hr(hostile_app):
    return login(hostile_app.test_client(), "hr@acme.test")


def upload(client, data: bytes, filename: str):
    form = {"year": "2024", "month": "10", "file": (io.BytesIO(data), filename)}
    return client.post("/uploads", data=form, content_type="multipart/form-data")


def upload_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Upload.id)))


def stored(app, response) -> Upload:
    upload_id = int(re.search(r"/uploads/(\d+)$", response.headers["Location"]).group(1))
    with app.app_context():
        row = db.session.get(Upload, upload_id)
        row.preview  # noqa: B018  (load the deferred column inside the session)
        return row


def said(row: Upload) -> str:
    preview = row.preview or {}
    parts = [row.message or "", preview.get("fatal") or "", *preview.get("warnings", ()),
             *(error.get("message", "") for error in preview.get("errors", ()))]
    return " ".join(parts)


def contains_all(text: str, expect: tuple) -> list:
    """The expected strings missing from `text` (a tuple inside `expect` means one of them)."""
    folded = text.lower()
    missing = []
    for item in expect:
        options = item if isinstance(item, tuple) else (item,)
        if not any(option.lower() in folded for option in options):
            missing.append(item)
    return missing


def _params():
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case.gap)] if case.gap else []
        yield pytest.param(case, id=case.name[:40], marks=marks)


@pytest.mark.parametrize("case", _params())
def test_hostile_file_gets_its_outcome_and_the_app_stays_healthy(hostile_app, hr, case):
    before = upload_count(hostile_app)
    response = upload(hr, case.build(), case.filename)
    assert response.status_code in (302, 400), response.data[:1000]
    page = html.unescape(response.get_data(as_text=True))
    if response.status_code == 400:
        assert case.outcome in ("refused", "refused_or_fatal"), page[:1500]
        assert upload_count(hostile_app) == before, "a refused file was stored"
        message = re.search(r'id="upload-error"[^>]*>(.*?)</div>', page, re.S)
        assert message, page[:1500]
        assert contains_all(message.group(1), case.expect) == [], message.group(1)
    else:
        row = stored(hostile_app, response)
        if case.outcome == "imports":
            assert (row.status, row.employee_count) == ("preview", case.rows), said(row)
        else:
            assert case.outcome in ("fatal", "refused_or_fatal"), (row.status, said(row))
            assert row.status == "rejected", (row.status, said(row))
        assert contains_all(said(row), case.expect) == [], said(row)
        detail = hr.get(response.headers["Location"])
        assert detail.status_code == 200
        assert not any(secret in detail.get_data(as_text=True) for secret in OUTSIDE_FILES)
        assert "<img src=x" not in detail.get_data(as_text=True)
    assert hr.get("/uploads").status_code == 200
    assert upload(hr, valid_xlsx(), "normal.xlsx").status_code == 302


def test_there_are_at_least_forty_hostile_files():
    assert len(CASES) >= 40


def test_no_entry_of_a_hostile_zip_was_written_to_disk():
    assert not pathlib.Path("/tmp/paydash_owned.txt").exists()
    assert not pathlib.Path("/tmp/paydash_owned_abs.txt").exists()


def test_the_generator_writes_every_file_with_a_manifest(tmp_path):
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    script = pathlib.Path(__file__).parents[1] / "hostile_files.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.glob("*"))) == len(CASES) + 1
