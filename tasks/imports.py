"""Salary sheet imports: validate into a preview (nothing stored), then commit on confirmation."""
from paydash.broker import task
from paydash.config import Config
from paydash.ledger import memory
from paydash.ledger.queue import PRIORITIES
from paydash.services import imports


@task(retries=Config.IMPORT_RETRIES, retry_delay=Config.IMPORT_RETRY_DELAY,
      timeout=Config.IMPORT_TIMEOUT, priority=PRIORITIES["imports"])
def import_salary_sheet(upload_id: int, tenant_id: int) -> dict:
    """Validate an upload's workbook and store its preview on the upload."""
    with memory.given_back():
        return imports.validate_upload(upload_id, tenant_id)


@task(retries=Config.IMPORT_RETRIES, retry_delay=Config.IMPORT_RETRY_DELAY,
      timeout=Config.IMPORT_TIMEOUT, priority=PRIORITIES["imports"])
def commit_salary_sheet(upload_id: int, tenant_id: int) -> dict:
    """Replace the period's salary rows with the confirmed upload's, then request a chart sync."""
    with memory.given_back():
        return imports.commit_upload(upload_id, tenant_id)
