"""Chart data: aggregate a period's salary rows into ChartAggregatedData, and keep it fresh.

`sync_chart_data` is the body of the `sync_chart_data_batch` task. It reads the period's
salary rows with two set-based queries (one GROUP BY for department and band totals, one
window-function ranking for top earners), upserts the result on the natural key with the
dialect's INSERT ... ON CONFLICT DO UPDATE and deletes the period's keys that no longer
exist. Running it twice leaves the same rows (only `refreshed_at` moves).

Gross is NULL in a chart row when any of its salary rows has no gross (a sheet without
gross pay, issue 15): the dashboard then says "not in the sheet" instead of a short total.
"""
import datetime as dt
import logging
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.extensions import upsert_insert
from paydash.ledger import jobs
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.models import ChartAggregatedData
from paydash.models import ChartVersion
from paydash.models import SalaryRow
from paydash.models import Tenant

logger = logging.getLogger(__name__)

DEPT = "dept"
BAND = "band"
TOP = "top"
ALL_DEPARTMENTS = ""  # The department of "top" rows ranked over the whole tenant.
TOP_N = 10
SYNC_TASK = "sync_chart_data_batch"
OPEN_STATES = (JobState.PENDING.value, JobState.STARTED.value, JobState.RETRY.value)

# Salary bands by net pay: (bucket, label, short label, lower bound inclusive).
BANDS = (
    ("b1", "Under ₹10k", "<10k", Decimal(0)),
    ("b2", "₹10k–20k", "10–20k", Decimal(10_000)),
    ("b3", "₹20k–30k", "20–30k", Decimal(20_000)),
    ("b4", "₹30k–50k", "30–50k", Decimal(30_000)),
    ("b5", "₹50k–1L", "50k–1L", Decimal(50_000)),
    ("b6", "Over ₹1L", ">1L", Decimal(100_000)),
)
BAND_LABELS = {bucket: label for bucket, label, _, _ in BANDS}

# Summed columns, in hundredths (paise, or hundredths of an hour) so sums are exact integers
# on SQLite too, where NUMERIC values are stored as floats.
MEASURES = ("gross", "net", "fixed_salary", "ot_hours", "ot_pay", "late_deduction",
            "total_deductions")
NATURAL_KEY = ("tenant_id", "year", "month", "kind", "department", "bucket")
UPSERT_CHUNK = 500


class UnknownTenant(LookupError):
    """A chart sync was asked for a tenant that does not exist."""


def request_sync(tenant_id: int, year: int, month: int, source: str, requested_by_id: int | None):
    """Create the chart sync job for a period, commit, then enqueue; returns the Job."""
    job = jobs.create_job(SYNC_TASK, args=(tenant_id, year, month, source),
                          queue="chart_sync", tenant_id=tenant_id, year=year, month=month,
                          requested_by_id=requested_by_id)
    jobs.commit_and_dispatch(job)
    return job


def sync_chart_data(tenant_id: int, year: int, month: int, source: str) -> dict:
    """Rebuild one tenant-period's chart rows from its salary rows (idempotent); commits.

    Raises UnknownTenant when the tenant does not exist.
    """
    if db.session.get(Tenant, tenant_id) is None:
        raise UnknownTenant(f"No tenant with id {tenant_id}: nothing to aggregate")
    jobs.checkpoint(0, None, "Aggregating salary rows", force=True)
    now = utcnow()
    rows = _department_and_band_rows(tenant_id, year, month)
    headcount = sum(r["headcount"] for r in rows if r["kind"] == DEPT)
    jobs.checkpoint(headcount, headcount, "Ranking top earners")
    rows += _top_earner_rows(tenant_id, year, month, [r for r in rows if r["kind"] == BAND])
    for row in rows:
        row.update(tenant_id=tenant_id, year=year, month=month, source=source, refreshed_at=now)
    jobs.checkpoint(headcount, headcount, "Writing chart data")
    _upsert(rows)
    deleted = _delete_stale(tenant_id, year, month, {_key(r) for r in rows})
    bump_chart_version([tenant_id])
    db.session.commit()
    logger.info("chart sync tenant %s %04d-%02d: %s rows written, %s stale deleted",
                tenant_id, year, month, len(rows), deleted)
    return {"tenant_id": tenant_id, "year": year, "month": month, "source": source,
            "rows_written": len(rows), "rows_deleted": deleted,
            "departments": sum(1 for r in rows if r["kind"] == DEPT), "headcount": headcount}


def _hundredths(column):
    """SUM of a 2-decimal column as an exact integer count of hundredths."""
    return sa.func.sum(sa.cast(sa.func.round(column * 100), sa.BigInteger))


def _from_hundredths(value) -> Decimal:
    return (Decimal(value or 0) / 100).quantize(Decimal("0.01"))


def _department_expr():
    # Imports file rows without a department under "Unassigned"; guard the empty string too,
    # because "" is the all-departments marker of the "top" rows.
    return sa.func.coalesce(sa.func.nullif(SalaryRow.department, ""), "Unassigned")


def _band_expr():
    whens = [(SalaryRow.net >= lower, bucket) for bucket, _, _, lower in reversed(BANDS[1:])]
    return sa.case(*whens, else_=BANDS[0][0])


def _department_and_band_rows(tenant_id: int, year: int, month: int) -> list[dict]:
    """One GROUP BY (department, band): band rows directly, department rows as their sum."""
    department, band = _department_expr().label("department"), _band_expr().label("band")
    stmt = (
        sa.select(department, band, sa.func.count().label("headcount"),
                  sa.func.count(SalaryRow.gross).label("with_gross"),
                  *(_hundredths(getattr(SalaryRow, m)).label(m) for m in MEASURES))
        .where(SalaryRow.tenant_id == tenant_id, SalaryRow.year == year, SalaryRow.month == month)
        .group_by(department, band)
    )
    by_department: dict[str, dict] = {}
    rows = []
    for group in db.session.execute(stmt).mappings():
        values = {m: _from_hundredths(group[m]) for m in MEASURES}
        if group["with_gross"] < group["headcount"]:
            values["gross"] = None  # Issue 15: a sum over some rows' gross would be wrong.
        rows.append(dict(kind=BAND, department=group["department"], bucket=group["band"],
                         label=BAND_LABELS[group["band"]], headcount=group["headcount"], **values))
        total = by_department.setdefault(group["department"], dict(
            kind=DEPT, department=group["department"], bucket="", label=group["department"],
            headcount=0, **{m: Decimal(0) for m in MEASURES}))
        total["headcount"] += group["headcount"]
        for m in MEASURES:
            total[m] = None if values[m] is None or total[m] is None else total[m] + values[m]
    return list(by_department.values()) + rows


def _top_earner_rows(tenant_id: int, year: int, month: int, bands: list[dict]) -> list[dict]:
    """The TOP_N best-paid (by net) per department and over the whole tenant.

    `bands` (the period's band rows, with their headcounts) say where each ranking's top
    lies: from the highest band down, the first band by which TOP_N people are counted.
    Only rows at or above that band's lower bound are ranked (a row ranked above a kept
    row has at least its net, so is kept too, and ranks are unchanged): sorting every row
    of the period, twice, was most of the chart sync.
    """
    period = (SalaryRow.tenant_id == tenant_id, SalaryRow.year == year, SalaryRow.month == month)
    department = _department_expr()
    order = (SalaryRow.net.desc(), SalaryRow.employee_key)
    columns = [SalaryRow.employee_name, SalaryRow.employee_key, *(getattr(SalaryRow, m) for m in MEASURES)]
    by_department: dict[str, dict[str, int]] = {}
    for row in bands:
        counts = by_department.setdefault(row["department"], {})
        counts[row["bucket"]] = row["headcount"]
    overall: dict[str, int] = {}
    for counts in by_department.values():
        for bucket, headcount in counts.items():
            overall[bucket] = overall.get(bucket, 0) + headcount
    kept = [sa.or_(*(department == name if bound is None
                     else sa.and_(department == name, SalaryRow.net >= bound)
                     for name, bound in ((name, _top_bound(counts))
                                         for name, counts in by_department.items())))
            ] if by_department else []
    everyone = _top_bound(overall)
    ranked = []
    for partition, name, where in (
            (department, "department", kept),
            (sa.literal(ALL_DEPARTMENTS), "all", [] if everyone is None else [SalaryRow.net >= everyone])):
        inner = (
            sa.select(partition.label("department"), *columns,
                      sa.func.row_number().over(partition_by=partition, order_by=order).label("rank"))
            .where(*period, *where).subquery(name)
        )
        ranked.append(sa.select(inner).where(inner.c.rank <= TOP_N))
    rows = []
    for r in db.session.execute(sa.union_all(*ranked)).mappings():
        rows.append(dict(kind=TOP, department=r["department"], bucket=f"{r['rank']:02d}",
                         label=(r["employee_name"] or r["employee_key"])[:200], headcount=1,
                         **{m: _rounded(r[m], m) for m in MEASURES}))
    return rows


def _top_bound(counts: dict[str, int]) -> Decimal | None:
    """The lower bound of the highest band by which TOP_N people are counted (None: all)."""
    seen = 0
    for bucket, _label, _short, lower in reversed(BANDS[1:]):
        seen += counts.get(bucket, 0)
        if seen >= TOP_N:
            return lower
    return None


def _rounded(value, measure: str) -> Decimal | None:
    if value is None and measure == "gross":
        return None  # Not in the sheet (issue 15); every other measure's blank is 0.
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _key(row: dict) -> tuple:
    return row["kind"], row["department"], row["bucket"]


def _upsert(rows: list[dict]) -> None:
    insert = upsert_insert()
    table = ChartAggregatedData.__table__
    for start in range(0, len(rows), UPSERT_CHUNK):
        stmt = insert(table).values(rows[start:start + UPSERT_CHUNK])
        updated = {c.name: stmt.excluded[c.name] for c in table.columns
                   if c.name not in NATURAL_KEY and c.name != "id"}
        db.session.execute(stmt.on_conflict_do_update(index_elements=list(NATURAL_KEY), set_=updated))


def _delete_stale(tenant_id: int, year: int, month: int, keep: set[tuple]) -> int:
    """Delete the period's chart rows whose key the new aggregation did not produce."""
    c = ChartAggregatedData
    existing = db.session.execute(
        sa.select(c.id, c.kind, c.department, c.bucket)
        .where(c.tenant_id == tenant_id, c.year == year, c.month == month)
    ).all()
    stale = [row.id for row in existing if (row.kind, row.department, row.bucket) not in keep]
    if stale:
        db.session.execute(sa.delete(c).where(c.id.in_(stale)))
    return len(stale)


def bump_chart_version(tenant_ids: list[int]) -> None:
    """Bump each tenant's chart version in the caller's transaction (cached dashboards go stale)."""
    if not tenant_ids:
        return
    insert = upsert_insert()
    stmt = insert(ChartVersion).values([{"tenant_id": t, "version": 1} for t in sorted(set(tenant_ids))])
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=["tenant_id"], set_={"version": ChartVersion.version + 1}))


def cleanup_old_chart_data(now: dt.datetime | None = None) -> dict:
    """Delete chart rows not refreshed for CHART_DATA_RETENTION_DAYS; commits.

    Safe for the dashboard: a period that still has salary rows is re-synced on demand
    (see `missing_periods` and `ensure_synced`).
    """
    days = int(current_app.config.get("CHART_DATA_RETENTION_DAYS", 90))
    cutoff = (now or utcnow()) - dt.timedelta(days=days)
    old = ChartAggregatedData.refreshed_at < cutoff
    bump_chart_version(db.session.scalars(
        sa.select(ChartAggregatedData.tenant_id).where(old).distinct()).all())
    result = db.session.execute(sa.delete(ChartAggregatedData).where(old))
    db.session.commit()
    logger.info("chart cleanup: %s rows older than %s deleted", result.rowcount, cutoff)
    return {"deleted": result.rowcount, "cutoff": cutoff.isoformat(), "retention_days": days}


def missing_periods(tenant_id: int, periods: list[tuple[int, int]],
                    charted: set[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """Of `periods` without chart rows (not in `charted`), those that do have salary rows.

    Returns (year, month, source of the salary rows) for each.
    """
    unknown = [(year, month) for year, month in periods if (year, month) not in charted]
    if not unknown:
        return []
    # One query whose OR terms each seek the (tenant_id, year, month) index (the tenant test
    # sits inside every term, or SQLite scans all the tenant's rows): usually these months
    # simply have no data, so almost nothing is read.
    terms = (sa.and_(SalaryRow.tenant_id == tenant_id, SalaryRow.year == y, SalaryRow.month == m)
             for y, m in unknown)
    found = db.session.execute(
        sa.select(SalaryRow.year, SalaryRow.month, sa.func.min(SalaryRow.source))
        .where(sa.or_(*terms)).group_by(SalaryRow.year, SalaryRow.month)
    ).all()
    return sorted((year, month, source) for year, month, source in found)


def ensure_synced(tenant_id: int, periods: list[tuple[int, int, str]],
                  requested_by_id: int | None) -> list[dict]:
    """Request a sync for each (year, month, source) unless one is already waiting or running.

    Returns each period's sync job: what the dashboard shows as "refreshing".
    """
    refreshing = []
    for year, month, source in periods:
        job = db.session.scalars(
            sa.select(Job).where(Job.task_name == SYNC_TASK, Job.tenant_id == tenant_id,
                                 Job.year == year, Job.month == month,
                                 Job.state.in_(OPEN_STATES)).limit(1)
        ).first()
        if job is None:
            logger.info("tenant %s %04d-%02d has salary rows but no chart data: re-syncing",
                        tenant_id, year, month)
            job = request_sync(tenant_id, year, month, source, requested_by_id)
        refreshing.append({"year": year, "month": month, "job_id": job.id, "state": job.state})
    return refreshing
