"""Uploads whose import job failed for good: put them where HR can act.

A worker killed three times while reading one file leaves its import job FAILURE (all
attempts used) but the upload `validating`: "Being checked" for ever, discard refused.
The ledger calls `jobs_failed` whenever it fails jobs (`paydash.ledger.jobs.FAILED_HOOK`);
an upload still waiting on such a job becomes FAILED, with a message in HR's words, and
HR can upload the file again or discard it.
"""
import logging
from collections.abc import Iterable

import sqlalchemy as sa

from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.models import BLOB_STAGED
from paydash.models import Upload
from paydash.models import UploadBlob
from paydash.models import UploadStatus

logger = logging.getLogger(__name__)

WAITING = (UploadStatus.RECEIVED.value, UploadStatus.VALIDATING.value)
GAVE_UP = (JobState.FAILURE.value, JobState.REVOKED.value)
CHECK_STOPPED = ("Paydash could not finish checking this file: the check stopped several "
                 "times before it was done. Nothing from it was saved. Upload the file again, "
                 "or discard this upload; if it keeps happening, tell your administrator.")


def jobs_failed(job_ids: Iterable[str]) -> int:
    """Uploads waiting on any of these (now failed) import jobs become FAILED; how many."""
    ids = list(job_ids)
    if not ids:
        return 0
    failed = sa.select(Job.upload_id).where(
        Job.id.in_(ids), Job.task_name == "import_salary_sheet", Job.state.in_(GAVE_UP),
        Job.upload_id.is_not(None))
    stopped = (Upload.id.in_(failed), Upload.status.in_(WAITING), Upload.job_id.in_(ids))
    db.session.execute(UploadBlob.removal(BLOB_STAGED, sa.select(Upload.id).where(*stopped)))
    changed = db.session.execute(
        sa.update(Upload).where(*stopped)
        .values(status=UploadStatus.FAILED.value, message=CHECK_STOPPED)
    ).rowcount
    db.session.commit()
    if changed:
        logger.warning("%s upload(s) marked failed: their import job failed for good", changed)
    return changed
