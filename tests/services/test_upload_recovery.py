"""An upload whose import job failed for good ends where HR can act: failed, discardable."""
import datetime as dt

import sqlalchemy as sa
from conftest import People
from hostile_files import valid_xlsx

from paydash.extensions import db
from paydash.ledger import dbclock
from paydash.ledger import recovery
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.services import imports


def test_an_upload_whose_check_was_killed_three_times_can_be_discarded(queued_app):
    with queued_app.app_context():
        people = People(queued_app)
        upload = imports.receive_upload(people.tenant_a, people.hr_a, "oct.xlsx", valid_xlsx(),
                                        2024, 10)
        # Its third attempt was reading the file when the worker was killed (kill -9).
        silent_since = dbclock.utcnow() - dt.timedelta(seconds=120)
        db.session.execute(sa.update(Job).where(Job.id == upload.job_id).values(
            state=JobState.STARTED.value, attempts=3, max_attempts=3, worker_id="vm:11649:gone",
            started_at=silent_since, heartbeat_at=silent_since))
        db.session.execute(sa.update(Upload).where(Upload.id == upload.id).values(
            status=UploadStatus.VALIDATING.value))
        db.session.commit()
        report = recovery.recover_lost_jobs()
        assert report.failed_dead_worker == [upload.job_id]
        db.session.expire_all()
        stored = db.session.get(Upload, upload.id)
        assert stored.status == UploadStatus.FAILED.value
        assert "Nothing from it was saved" in stored.message
        assert "heart-beating" not in stored.message and "vm:" not in stored.message
        imports.discard_upload(upload.id, people.tenant_a, people.hr_a)
        assert db.session.get(Upload, upload.id).status == UploadStatus.DISCARDED.value
