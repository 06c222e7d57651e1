"""Months of one tenant confirmed at once: the employee master upsert never races."""
import threading

import pytest
import sqlalchemy as sa
from conftest import People
from sheet_builders import template_sheet

from paydash.extensions import db
from paydash.models import Employee
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.services import imports

pytestmark = pytest.mark.slow

MONTHS = 8
EMPLOYEES = 150


def confirmed_months(app, people) -> list[int]:
    """A new tenant's eight months, validated and confirmed, their commits not yet run."""
    ids = []
    with app.app_context():
        for month in range(1, MONTHS + 1):
            upload = imports.receive_upload(people.tenant_a, people.hr_a, f"m{month}.xlsx",
                                            template_sheet(EMPLOYEES, seed=month), 2025, month)
            imports.validate_upload(upload.id, people.tenant_a)
            imports.confirm_upload(upload.id, people.tenant_a, people.hr_a)
            ids.append(upload.id)
    return ids


def test_eight_months_confirmed_at_once_all_commit_on_their_first_attempt(app_on_each_database):
    people = People(app_on_each_database)
    upload_ids = confirmed_months(app_on_each_database, people)
    start = threading.Barrier(MONTHS)
    failures = []

    def commit(upload_id: int) -> None:
        with app_on_each_database.app_context():
            start.wait(timeout=30)
            try:
                imports.commit_upload(upload_id, people.tenant_a)
            except Exception as exc:  # What would have cost the job an attempt.
                failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=commit, args=(upload_id,)) for upload_id in upload_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    with app_on_each_database.app_context():
        statuses = db.session.scalars(sa.select(Upload.status).where(Upload.id.in_(upload_ids)))
        assert set(statuses) == {UploadStatus.CONFIRMED.value}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Employee)) == EMPLOYEES
