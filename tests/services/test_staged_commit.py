"""A commit from the staged rows (inserted by column) stores, column for column and as the
database holds each value, what a commit that reads the workbook again stores (issue 18).
On SQLite and PostgreSQL.
"""
import pytest
import sheet_builders as sb
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import dispose_app
from conftest import make_app

from paydash.extensions import db
from paydash.models import SalaryRow
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.services import imports

SKIPPED = {"id", "month", "upload_id"}
AS_TEXT = ("fixed_salary", "paid_days", "absent_days", "ot_hours", "gross", "tds", "net", "extra")


@pytest.fixture(params=["sqlite", "postgresql"])
def commit_app(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'staged.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    app = make_app(base_config(tmp_path, url, HUEY_IMMEDIATE=True))
    yield app, People(app)
    dispose_app(app)


def commit(app, people, data, month, staged: bool, keep_duplicates=False) -> list[tuple]:
    with app.app_context():
        upload_id = imports.receive_upload(people.tenant_a, people.hr_a, "m.xlsx", data, 2025,
                                           month).id
        if not staged:
            db.session.get(Upload, upload_id).staged_rows = None
            db.session.commit()
        imports.confirm_upload(upload_id, people.tenant_a, people.hr_a, keep_duplicates,
                               acknowledge_checks=True)
        assert db.session.get(Upload, upload_id).status == UploadStatus.CONFIRMED.value
        columns = [c for c in SalaryRow.__table__.columns if c.name not in SKIPPED]
        texts = [sa.cast(SalaryRow.__table__.c[name], sa.Text).label(f"{name}_text")
                 for name in AS_TEXT]
        rows = db.session.execute(sa.select(*columns, *texts).where(
            SalaryRow.tenant_id == people.tenant_a, SalaryRow.month == month)
            .order_by(SalaryRow.id)).all()
        return [tuple(row) for row in rows]


@pytest.mark.parametrize("data", [
    sb.template_sheet(60, total=True),
    sb.classic_sheet(40),
    sb.simple_sheet([["E1", "Asha", "Sales", 30000.125, 28000.5], ["E1", "Ravi", None, 0, 0],
                     ["E3", "Meena", "Stores", None, 5]]),
], ids=["template", "classic", "duplicates-and-blanks"])
def test_a_staged_commit_stores_what_reading_the_workbook_again_stores(commit_app, data):
    app, people = commit_app
    staged = commit(app, people, data, 9, staged=True, keep_duplicates=True)
    again = commit(app, people, data, 10, staged=False, keep_duplicates=True)
    assert staged == again and len(staged) >= 3
