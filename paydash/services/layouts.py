"""The column mapping HR chose for a sheet layout: remembered per tenant, applied on each check.

HR changes how a column is read on the upload page and asks for a new check; the choice is
stored under the layout's signature (the header words and their columns), so the same
upload is checked again without uploading it anew, and next month's sheet of the same
layout imports with no questions.
"""
import logging
import re

import sqlalchemy as sa

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger.models import FINISHED_STATES
from paydash.ledger.models import Job
from paydash.models import SheetLayout
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.sheets.headers import FIELDS

logger = logging.getLogger(__name__)



class MappingRefused(Exception):
    """A mapping that cannot be used or an upload that cannot be checked again; for HR."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


RECHECKABLE = (UploadStatus.PREVIEW.value, UploadStatus.REJECTED.value)
_LETTERS = re.compile(r"^[A-Z]{1,3}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{8,64}$")
MAX_COLUMNS = 1024


def layouts_for(tenant_id: int, upload: Upload | None = None) -> dict[str, dict]:
    """Every layout the tenant mapped: {signature: {mapping, all_sheets, chosen_by}}.

    A choice made since `upload` was received is "yours" (made for it); older ones are
    "remembered" from an earlier month.
    """
    rows = db.session.scalars(sa.select(SheetLayout).where(SheetLayout.tenant_id == tenant_id))
    since = upload.created_at if upload is not None else None
    return {row.signature: {"mapping": dict(row.mapping or {}), "all_sheets": row.all_sheets,
                            "chosen_by": "yours" if since and row.updated_at >= since
                            else "remembered"}
            for row in rows}


def parse_choices(form: dict) -> dict[str, str]:
    """The columns whose select HR changed: {letter: field or ""} ("" = not used)."""
    changed = {}
    for key, value in form.items():
        if not key.startswith("col_"):
            continue
        letter = key[4:]
        if not _LETTERS.match(letter):
            raise MappingRefused("The mapping form was not understood. Reload the page and try again.")
        if value and value not in FIELDS:
            raise MappingRefused(f"Column {letter}: '{value[:40]}' is not a field Paydash stores.")
        if value != form.get(f"was_{letter}", value):
            changed[letter] = value
    if len(changed) > MAX_COLUMNS:
        raise MappingRefused("Too many columns in the mapping form.")
    return changed


def recheck_upload(upload_id: int, tenant_id: int, user_id: int, signature: str,
                   changed: dict[str, str], all_sheets: bool | None = None) -> Job:
    """Remember HR's mapping for the layout, then check the stored file again (nothing re-uploaded)."""
    upload = db.session.get(Upload, upload_id)
    if upload is None or upload.tenant_id != tenant_id:
        raise MappingRefused("This upload does not exist.")
    if upload.status not in RECHECKABLE or _busy(upload):
        raise MappingRefused("This upload cannot be checked again now: it is being checked or "
                            "saved, or it is already saved. Upload the file again instead.")
    if not _SIGNATURE.match(signature or ""):
        raise MappingRefused("The mapping form was not understood. Reload the page and try again.")
    _remember(tenant_id, user_id, signature, changed, all_sheets, upload)
    upload.status = UploadStatus.RECEIVED.value
    upload.staged_rows = None
    upload.message = None
    job = jobs.create_job("import_salary_sheet", args=(upload.id, tenant_id), queue="imports",
                          tenant_id=tenant_id, upload_id=upload.id, year=upload.year,
                          month=upload.month, requested_by_id=user_id)
    upload.job_id = job.id
    jobs.commit_and_dispatch(job)
    logger.info("upload %s: mapping changed by user %s (tenant %s, %s columns), job %s",
                upload_id, user_id, tenant_id, len(changed), job.id)
    return job


def _busy(upload: Upload) -> bool:
    return db.session.scalar(sa.select(sa.func.count(Job.id)).where(
        Job.upload_id == upload.id, Job.state.not_in(FINISHED_STATES))) > 0


def _remember(tenant_id: int, user_id: int, signature: str, changed: dict,
              all_sheets: bool | None, upload: Upload) -> None:
    layout = db.session.scalars(sa.select(SheetLayout).where(
        SheetLayout.tenant_id == tenant_id, SheetLayout.signature == signature)).first()
    if layout is None:
        layout = SheetLayout(tenant_id=tenant_id, signature=signature, mapping={},
                             all_sheets=False)
        db.session.add(layout)
    layout.mapping = {**(layout.mapping or {}), **changed}
    if all_sheets is not None:
        layout.all_sheets = all_sheets
    layout.headers = [entry.get("header") for entry in
                      ((upload.preview or {}).get("mapping") or [])][:MAX_COLUMNS]
    layout.updated_at = utcnow()
    layout.updated_by_id = user_id
