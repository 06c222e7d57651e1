"""Retention: no table grows without bound."""
import datetime as dt
import logging

import sqlalchemy as sa
from flask import current_app

from paydash import sessions
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import retention as ledger_retention
from paydash.models import BLOB_STAGED
from paydash.models import BLOB_WORKBOOK
from paydash.models import Upload
from paydash.models import UploadBlob
from paydash.models import UploadStatus

logger = logging.getLogger(__name__)


def prune(now: dt.datetime | None = None) -> dict:
    """Delete finished jobs past their retention, old periodic claims, old workbook bytes and
    expired sessions."""
    now = now or utcnow()
    summary = ledger_retention.prune_history(now)
    # Workbook bytes of uploads that never became (or no longer are) the period's data.
    keep_files = now - dt.timedelta(days=current_app.config["UPLOAD_RETENTION_DAYS"])
    past = sa.select(Upload.id).where(Upload.created_at < keep_files,
                                      Upload.status != UploadStatus.CONFIRMED.value)
    db.session.execute(UploadBlob.removal(BLOB_STAGED, past))
    summary["workbooks"] = db.session.execute(UploadBlob.removal(BLOB_WORKBOOK, past)).rowcount
    summary["sessions"] = sessions.prune_expired(sessions.Limits(
        idle=dt.timedelta(seconds=current_app.config["SESSION_IDLE_SECONDS"]),
        longest=dt.timedelta(seconds=current_app.config["SESSION_MAX_SECONDS"])), now)
    db.session.commit()
    logger.info("retention: pruned %s", summary)
    return summary
