"""The rows of an upload as they will be (or were) stored, for HR to spot-check (selector).

Before Confirm the rows come from what validation staged on the upload; after Confirm from
the salary rows the upload stored. Rows the checks flagged (and ids used twice) come first,
then the rest in sheet order; a search matches code, name or department. The rows stream,
so a 100,000-row sheet is never held in memory for one page.
"""
from dataclasses import dataclass
from dataclasses import field
from itertools import chain

import sqlalchemy as sa

from paydash.extensions import db
from paydash.models import SalaryRow
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.services import imports
from paydash.sheets import staging

PER_PAGE = 50
SHOWN_FIELDS = ("employee_code", "employee_name", "department", "gross", "total_deductions",
                "net")


@dataclass
class RowsPage:
    """One page of rows: `rows` as dicts with `flag` (None or why), and how many matched."""

    rows: list[dict] = field(default_factory=list)
    matched: int = 0
    page: int = 1
    per_page: int = PER_PAGE
    search: str = ""
    available: bool = True

    @property
    def pages(self) -> int:
        return max(1, -(-self.matched // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def rows_page(upload: Upload, search: str = "", page: int = 1,
              per_page: int = PER_PAGE) -> RowsPage:
    """A page of the upload's rows, flagged first; `available` False when none are kept."""
    search = " ".join(search.split())[:100]
    result = RowsPage(page=max(1, page), per_page=per_page, search=search)
    records = _records(upload)
    if records is None:
        result.available = False
        return result
    flags = _flags(upload.preview or {})
    needle = search.casefold()
    flagged, others = [], []
    start = (result.page - 1) * per_page
    for record in records:
        if needle and not _matches(record, needle):
            continue
        result.matched += 1
        row = {name: record.get(name) for name in SHOWN_FIELDS}
        row["sheet_row"] = record.get("sheet_row")
        row["flag"] = flags.get(_as_int(row["sheet_row"]))
        if row["flag"]:
            flagged.append(row)
        elif len(others) < start + per_page:
            others.append(row)   # later unflagged rows are only counted
    result.rows = (flagged + others)[start:start + per_page]
    return result


def _records(upload: Upload):
    if upload.status == UploadStatus.PREVIEW.value and upload.staged_rows is not None:
        try:
            return chain.from_iterable(staging.decode_rows(
                upload.staged_rows, upload.sha256, imports.staging_secret()))
        except staging.StagedRowsUnusable:
            return None
    if upload.status in (UploadStatus.CONFIRMED.value, UploadStatus.SUPERSEDED.value):
        columns = [getattr(SalaryRow, name) for name in SHOWN_FIELDS]
        stmt = (sa.select(*columns).where(SalaryRow.upload_id == upload.id,
                                          SalaryRow.tenant_id == upload.tenant_id)
                .order_by(SalaryRow.id).execution_options(yield_per=2000))
        return (row._asdict() for row in db.session.execute(stmt))
    return None


def _flags(preview: dict) -> dict[int, str]:
    flags = {}
    for group in preview.get("duplicates") or []:
        for row in group.get("rows") or []:
            flags[row["row"]] = f"Employee ID {group['code']} is used by more than one row"
    for warning in preview.get("check_warnings") or []:
        flags[warning["row"]] = warning["message"]
    return flags


def _matches(record: dict, needle: str) -> bool:
    return any(needle in str(record.get(name) or "").casefold()
               for name in ("employee_code", "employee_name", "department"))


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
