"""Dashboard reads: periods, KPIs with deltas and chart series, from ChartAggregatedData only.

Every selector takes the tenant id explicitly; the web layer decides which tenant a user
may see. Salary rows are touched only to notice a period whose chart data is missing
(after retention cleanup), which is then re-synced on demand.

`cached_summary` keeps finished summaries in process memory under the tenant's
`ChartVersion`, which every chart sync and cleanup bumps in its own transaction.
"""
import dataclasses
import datetime as dt
import json
import logging
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable

import sqlalchemy as sa
from flask import current_app

from paydash.charts import aggregation
from paydash.extensions import db
from paydash.models import ChartAggregatedData
from paydash.models import ChartVersion
from paydash.models import SalaryRow

logger = logging.getLogger(__name__)

MAX_MONTHS = 36
PRESETS = {"month": 1, "6m": 6, "12m": 12}
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SUMMED = aggregation.MEASURES  # The same measures, in the same order, as the rows aggregation.py writes.
# (key, label, format, whether a rise is good news: True, False or None for neutral)
KPIS = (
    ("gross", "Payroll cost", "inr", None),
    ("net", "Net paid", "inr", None),
    ("headcount", "Headcount", "num", True),
    ("avg_net", "Average net pay", "inr", True),
    ("ot_hours", "Overtime hours", "hours", None),
    ("late_deduction", "Late deductions", "inr", False),
    ("total_deductions", "Total deductions", "inr", None),
)


class PeriodError(ValueError):
    """A period in a request that cannot be shown; the text says what to change."""


def month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def from_index(index: int) -> tuple[int, int]:
    year, month0 = divmod(index, 12)
    return year, month0 + 1


def month_label(index: int) -> str:
    year, month = from_index(index)
    return f"{MONTH_NAMES[month - 1]} {year}"


def month_key(index: int) -> str:
    return "%04d-%02d" % from_index(index)


def parse_month(text: str) -> int:
    """'2026-03' -> month index; raises PeriodError for anything else."""
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", (text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise PeriodError(f"'{text}' is not a month; use the form 2026-03.")
    return month_index(int(match.group(1)), int(match.group(2)))


@dataclasses.dataclass(frozen=True)
class Period:
    """An inclusive range of months, as month indexes."""

    start: int
    end: int
    preset: str = "custom"
    note: str | None = None

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def indexes(self) -> range:
        return range(self.start, self.end + 1)

    def previous(self) -> "Period":
        return Period(self.start - self.length, self.start - 1)

    def label(self) -> str:
        if self.length == 1:
            return month_label(self.end)
        return f"{month_label(self.start)} – {month_label(self.end)}"

    def as_dict(self) -> dict:
        return {"from": month_key(self.start), "to": month_key(self.end), "months": self.length,
                "preset": self.preset, "label": self.label(), "note": self.note}


# Statements are built once, with bind parameters: building them per request cost more CPU
# than running them (the dashboard JSON's p99 target is 25 ms).
_C = ChartAggregatedData.__table__.c
_S = SalaryRow.__table__.c
_C_INDEX = _C.year * 12 + _C.month - 1
_LATEST_CHARTED = (sa.select(_C_INDEX)
                   .where(_C.tenant_id == sa.bindparam("tenant_id"), _C.kind == aggregation.DEPT)
                   .order_by(_C.year.desc(), _C.month.desc()).limit(1).scalar_subquery())
_LATEST_SALARY = (sa.select(_S.year * 12 + _S.month - 1).where(_S.tenant_id == sa.bindparam("tenant_id"))
                  .order_by(_S.year.desc(), _S.month.desc()).limit(1).scalar_subquery())
# The cached path's one round trip: the tenant's chart version and both latest months.
_STATE = sa.select(
    sa.select(ChartVersion.version).where(ChartVersion.tenant_id == sa.bindparam("tenant_id"))
    .scalar_subquery(), _LATEST_CHARTED, _LATEST_SALARY)
# A department row of a month: what the sums need, nothing more.
_COLUMNS = (_C_INDEX.label("idx"), _C.department, _C.headcount,
            *(sa.cast(_C[m], sa.Float).label(m) for m in SUMMED))
# Positions in a chart row as the DBAPI cursor returns it.
IDX, DEPARTMENT, HEADCOUNT, FIRST_MEASURE = 0, 1, 2, 3
GROSS = FIRST_MEASURE + SUMMED.index("gross")
_RANGE_ROWS = sa.select(*_COLUMNS).where(
    _C.tenant_id == sa.bindparam("tenant_id"), _C.kind == sa.bindparam("kind"),
    _C.year.between(sa.bindparam("first_year"), sa.bindparam("last_year")),
    _C_INDEX.between(sa.bindparam("first"), sa.bindparam("last")))
# The detail month: band counts summed in SQL (integers), and only the top earners shown,
# over every department or over one (a department's rows only).
_IN_MONTH = (_C.tenant_id == sa.bindparam("tenant_id"), _C.year == sa.bindparam("year"),
             _C.month == sa.bindparam("month"))
_DETAIL_COLUMNS = (_C.kind, _C.bucket, _C.label, _C.headcount, sa.cast(_C.net, sa.Float),
                   sa.cast(_C.gross, sa.Float))
_TOP_ROWS = sa.select(*_DETAIL_COLUMNS).where(
    *_IN_MONTH, _C.kind == aggregation.TOP, _C.department == sa.bindparam("top_department"))


def _band_counts(*where) -> sa.Select:
    return (sa.select(_C.kind, _C.bucket, sa.literal_column("''"), sa.func.sum(_C.headcount),
                      sa.null(), sa.null())
            .where(*_IN_MONTH, _C.kind == aggregation.BAND, *where).group_by(_C.kind, _C.bucket))


_DETAIL_ROWS = {
    False: sa.union_all(_band_counts(), _TOP_ROWS),
    True: sa.union_all(_band_counts(_C.department == sa.bindparam("department")), _TOP_ROWS),
}
_S_INDEX = _S.year * 12 + _S.month - 1
# The first and last month with salary rows: only months between them can need a re-sync.
_SALARY_SPAN = sa.select(
    sa.select(_S_INDEX).where(_S.tenant_id == sa.bindparam("tenant_id"))
    .order_by(_S.year, _S.month).limit(1).scalar_subquery(),
    sa.select(_S_INDEX).where(_S.tenant_id == sa.bindparam("tenant_id"))
    .order_by(_S.year.desc(), _S.month.desc()).limit(1).scalar_subquery())


def _latest_of(*months: int | None) -> int | None:
    found = [i for i in months if i is not None]
    return max(found) if found else None


def _resolve(preset: str | None, start: str | None, end: str | None,
             latest_month_of_tenant: Callable[[], int | None], today: dt.date | None = None) -> Period:
    if start or end:
        first, last = parse_month(start or end), parse_month(end or start)
        if first > last:
            raise PeriodError("The start month is after the end month.")
        if last - first + 1 > MAX_MONTHS:
            raise PeriodError(f"Pick at most {MAX_MONTHS} months.")
        # One month (the upload page's "Open the dashboard") reads as that month, not "Custom".
        return Period(first, last, "month" if first == last else "custom")
    preset = preset or "month"
    if preset not in PRESETS:
        raise PeriodError(f"Unknown period '{preset}'; use month, 6m, 12m or a from/to range.")
    today = today or dt.date.today()
    current = month_index(today.year, today.month)
    latest = latest_month_of_tenant()
    anchor, note = current, None
    if latest is not None and latest < current:
        anchor = latest
        note = (f"{month_label(current)} has no payroll data yet, so this shows "
                f"{month_label(latest)}, the latest month with data.")
    return Period(anchor - PRESETS[preset] + 1, anchor, preset, note)


def _range_rows(tenant_id: int, first: int, last: int, kind: str) -> list[tuple]:
    """Chart rows of one kind for months first..last (indexes); figures as floats for display."""
    return _fetch(_RANGE_ROWS, {
        "tenant_id": tenant_id, "kind": kind, "first": first, "last": last,
        "first_year": from_index(first)[0], "last_year": from_index(last)[0]})


def _detail_rows(tenant_id: int, index: int, department: str | None) -> list[tuple]:
    """(kind, bucket, label, headcount, net, gross) of the month's band counts and top earners."""
    year, month = from_index(index)
    params = {"tenant_id": tenant_id, "year": year, "month": month,
              "top_department": department or aggregation.ALL_DEPARTMENTS}
    if department:
        params["department"] = department
    return _fetch(_DETAIL_ROWS[bool(department)], params)


def _missing_months(tenant_id: int, first: int, last: int, charted: set[int]) -> list[tuple]:
    """Months first..last without chart rows that have salary rows: (year, month, source).

    Months outside the tenant's first..last salary month cannot have any, so only the
    months between are asked about (usually none: a long range's earlier window mostly
    lies before the first upload).
    """
    unknown = [i for i in range(first, last + 1) if i not in charted]
    if not unknown:
        return []
    earliest, latest = _fetch(_SALARY_SPAN, {"tenant_id": tenant_id}, one=True)
    inside = [from_index(i) for i in unknown
              if earliest is not None and earliest <= i <= latest]
    return aggregation.missing_periods(tenant_id, inside, set()) if inside else []


def _money(value) -> float:
    """Round a float sum to the paisa (sums of a few hundred 2-decimal figures stay exact)."""
    return round(float(value or 0), 2)


def _in_order(values) -> float:
    """0.0 + each value (None counts as 0) from first to last: not sum(), whose float
    algorithm may change (Python 3.12 compensates), nor fsum(): the dashboard's figures
    stay the ones it has always shown."""
    total = 0.0
    for value in values:
        total += value or 0.0
    return total


class _Sums:
    """Running sums of every measure, and headcount per month (not additive over time)."""

    __slots__ = ("values", "heads", "no_gross")

    def __init__(self):
        self.values = [0.0] * len(SUMMED)
        self.heads: dict[int, int] = {}
        self.no_gross: set[int] = set()  # months whose sheet had no gross pay (issue 15)

    @classmethod
    def of(cls, rows: list[tuple]) -> "_Sums":
        """The sums of chart rows (DBAPI tuples of `_RANGE_ROWS`), added in float in row
        order: the order the earlier per-row code added them in, so the same floats."""
        sums = cls()
        sums.values = [_in_order(column) for column in zip(*[r[FIRST_MEASURE:] for r in rows])]
        heads, no_gross = sums.heads, sums.no_gross
        for r in rows:
            idx = r[IDX]
            heads[idx] = heads.get(idx, 0) + r[HEADCOUNT]
            if r[GROSS] is None:
                no_gross.add(idx)
        return sums

    def merge(self, other: "_Sums") -> None:
        self.values = [total + value for total, value in zip(self.values, other.values)]
        for idx, heads in other.heads.items():
            self.heads[idx] = self.heads.get(idx, 0) + heads
        self.no_gross |= other.no_gross

    def totals(self) -> dict:
        totals = dict(zip(SUMMED, self.values))
        if self.no_gross:
            # The known months' figures alone would read as the total. A sheet without gross
            # states no deductions either (with them, gross is net + deductions).
            totals["gross"] = totals["total_deductions"] = None
        totals["headcount"] = self.heads[max(self.heads)] if self.heads else 0
        employee_months = sum(self.heads.values())
        totals["avg_net"] = totals["net"] / employee_months if employee_months else 0.0
        return totals


# Measures that are not sums over the months (the latest month's headcount, the average
# per employee-month): comparable whatever the number of months behind them.
NOT_SUMMED_OVER_MONTHS = ("headcount", "avg_net")


def _kpis(current: dict, previous: dict, months_now: int, months_before: int,
          before_label: str, notes: dict | None = None) -> list[dict]:
    """KPI cards compared like with like: sums when both windows have data for as many
    months, else the average month of each (`compare` says which), no % without data.

    A figure a sheet did not have (None: gross, issue 15) is shown as unknown and never
    compared; `notes` holds the sentence that says which months lack it."""
    cards = []
    same_months = months_now == months_before
    for key, label, fmt, rise_is_good in KPIS:
        value, before = current[key], previous[key]
        change, compare = None, None
        if value is None or (months_before and before is None):
            cards.append({"key": key, "label": label, "format": fmt,
                          "value": None if value is None else _money(value),
                          "previous": None if before is None or not months_before else _money(before),
                          "change_pct": None, "compare": None, "rise_is_good": rise_is_good,
                          "unknown": (notes or {}).get(key)})
            continue
        if months_before:
            now_basis, before_basis = value, before
            compare = f"vs {before_label}"
            if key not in NOT_SUMMED_OVER_MONTHS and not same_months:
                now_basis, before_basis = value / max(1, months_now), before / months_before
                compare = f"per month, vs {before_label}"
            if _money(before_basis):
                change = round((_money(now_basis) - _money(before_basis))
                               / _money(before_basis) * 100, 1)
        show = int if key == "headcount" else _money
        cards.append({"key": key, "label": label, "format": fmt, "value": show(value),
                      "previous": show(before) if months_before else None,
                      "change_pct": change, "compare": compare, "rise_is_good": rise_is_good,
                      "unknown": None})
    return cards


def _window_note(previous: Period, months_before: int) -> str | None:
    """Say when the earlier window is not complete, so a % is never read as like for like."""
    if months_before == previous.length:
        return None
    if months_before == 0:
        return f"No salary data for {previous.label()}, so there is nothing to compare with."
    return (f"{previous.label()} has salary data for only {months_before} of its "
            f"{previous.length} months, so totals are compared as the average month.")


def _unknown_notes(current: _Sums, before: _Sums) -> dict[str, str | None]:
    """For gross and deductions: which months' sheets had no gross pay, so the figure is
    unknown, or known but not compared with an unknown one."""
    note = None
    if current.no_gross:
        note = "Not in the sheet for " + ", ".join(month_label(i) for i in sorted(current.no_gross))
    elif before.no_gross:
        note = ("Not compared: no gross pay in the sheet for "
                + ", ".join(month_label(i) for i in sorted(before.no_gross)))
    return dict.fromkeys(("gross", "total_deductions"), note)


def _trend(by_month: dict[int, _Sums], period: Period) -> list[dict]:
    gross, net = SUMMED.index("gross"), SUMMED.index("net")
    points = []
    for index in period.indexes():
        sums = by_month.get(index)
        unknown = bool(sums and sums.no_gross)
        points.append({
            "month": month_key(index), "label": month_label(index),
            "gross": _money(sums.values[gross]) if sums and not unknown else None,
            "gross_unknown": unknown,
            "net": _money(sums.values[net]) if sums else None,
            "headcount": sums.heads[index] if sums else None,
        })
    return points


def _by_department(by_department: dict[str, _Sums]) -> list[dict]:
    result = []
    for department, sums in by_department.items():
        totals = sums.totals()
        result.append({"department": department, "headcount": totals["headcount"],
                       **{m: _money(totals[m]) for m in ("net", "ot_hours", "ot_pay")},
                       "gross": None if totals["gross"] is None else _money(totals["gross"])})
    # Departments of known gross first by cost, then those without gross by net pay.
    return sorted(result, key=lambda d: (d["gross"] is None, -(d["gross"] or d["net"]),
                                         d["department"]))


def _period_sums(by_month: dict[int, _Sums], first: int, last: int) -> _Sums:
    total = _Sums()
    for idx, sums in by_month.items():
        if first <= idx <= last:
            total.merge(sums)
    return total


def _bands(detail: list[tuple]) -> list[dict]:
    counts = {bucket: headcount for kind, bucket, _, headcount, _, _ in detail
              if kind == aggregation.BAND}
    return [{"band": bucket, "label": label, "short": short, "count": counts.get(bucket, 0)}
            for bucket, label, short, _ in aggregation.BANDS]


def _top(detail: list[tuple]) -> list[dict]:
    top = sorted((r for r in detail if r[0] == aggregation.TOP), key=lambda r: r[1])
    return [{"rank": int(bucket), "name": label, "net": _money(net),
             "gross": None if gross is None else _money(gross)}
            for _, bucket, label, _, net, gross in top]


def _build_summary(tenant_id: int, period: Period, department: str | None,
                   requested_by_id: int | None) -> tuple[dict, bool]:
    """The summary, and whether every month with salary rows had its chart rows.

    The figures are float sums of the chart rows added in the order the database returns
    them, exactly as they always were (tests/charts/test_dashboard_exact.py holds the
    earlier computation and compares byte for byte).
    """
    previous = period.previous()
    rows = _range_rows(tenant_id, previous.start, period.end, aggregation.DEPT)
    missing = _missing_months(tenant_id, previous.start, period.end, {r[IDX] for r in rows})
    refreshing = aggregation.ensure_synced(tenant_id, missing, requested_by_id) if missing else []
    if refreshing:  # In immediate mode the sync has already run: read what it wrote.
        rows = _range_rows(tenant_id, previous.start, period.end, aggregation.DEPT)
    departments = sorted({r[DEPARTMENT] for r in rows})
    has_data = any(r[IDX] >= period.start for r in rows)
    month_rows: dict[int, list[tuple]] = {}  # in the order months first appear, as before
    department_rows: dict[str, list[tuple]] = {}
    for r in rows:
        if department and r[DEPARTMENT] != department:
            continue
        month_rows.setdefault(r[IDX], []).append(r)
        if r[IDX] >= period.start:
            department_rows.setdefault(r[DEPARTMENT], []).append(r)
    by_month = {idx: _Sums.of(group) for idx, group in month_rows.items()}
    by_department = {name: _Sums.of(group) for name, group in department_rows.items()}
    current = _period_sums(by_month, period.start, period.end)
    before = _period_sums(by_month, previous.start, previous.end)
    detail_month = max(current.heads, default=period.end)
    detail = _detail_rows(tenant_id, detail_month, department)
    months_now, months_before = len(current.heads), len(before.heads)
    earlier = dict(previous.as_dict(), months_with_data=months_before,
                   complete=months_before == previous.length,
                   note=_window_note(previous, months_before))
    summary = {
        "period": period.as_dict(), "previous": earlier,
        "department": department or None, "departments": departments, "has_data": has_data,
        "detail_month": {"key": month_key(detail_month), "label": month_label(detail_month)},
        "refreshing": [r for r in refreshing if r["state"] in aggregation.OPEN_STATES],
        "kpis": _kpis(current.totals(), before.totals(), months_now, months_before,
                      previous.label(), _unknown_notes(current, before)),
        "gross_unknown_months": [month_label(i) for i in sorted(current.no_gross)],
        "trend": _trend(by_month, period),
        "by_department": _by_department(by_department),
        "bands": _bands(detail),
        "top_earners": _top(detail),
    }
    return summary, not missing


# --- Cache ------------------------------------------------------------------------------------

CACHE_ENTRIES = 512
# A summary is reused only while the tenant's chart version is unchanged, and at most this
# long: the bound covers what the version cannot see (salary rows committed whose sync
# then failed, which an uncached read would re-request).
CACHE_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class Answer:
    """A finished summary and its JSON text, built once and shared by every reader."""

    summary: dict
    body: bytes


class SummaryCache:
    """A small LRU of answers, one per app (two apps in one process never share)."""

    def __init__(self, entries: int = CACHE_ENTRIES):
        self.entries = entries
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, max_age: float) -> Answer | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or time.monotonic() - item[0] > max_age:
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: tuple, answer: Answer) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), answer)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)


def summary_cache() -> SummaryCache:
    return current_app.extensions.setdefault("paydash_summary_cache", SummaryCache())


def _state_engine() -> sa.Engine:
    """The engine for the dashboard's reads: this app's own on SQLite, else a pool of its own.

    On PostgreSQL that pool's connections are in autocommit and are not pre-pinged: the read
    is one round trip instead of four (ping, BEGIN, SELECT, and the ROLLBACK when the
    connection goes back to the pool). pysqlite begins no transaction for a SELECT and its
    ping costs microseconds, so SQLite keeps the app's engine.
    """
    if db.engine.dialect.name == "sqlite":
        return db.engine
    engine = current_app.extensions.get("paydash_state_engine")
    if engine is None:
        options = {k: v for k, v in current_app.config["SQLALCHEMY_ENGINE_OPTIONS"].items()
                   if k != "pool_pre_ping"}
        engine = sa.create_engine(db.engine.url, isolation_level="AUTOCOMMIT", **options)
        kept = current_app.extensions.setdefault("paydash_state_engine", engine)
        if kept is not engine:  # Another thread made one first.
            engine.dispose()
            engine = kept
    return engine


# The dashboard's SQL and fixed parameters, compiled once per dialect and statement, so
# each read runs on the DBAPI cursor (see `_fetch`).
_COMPILED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _compiled(dialect, statement) -> tuple[str, dict, tuple | None]:
    by_statement = _COMPILED.setdefault(dialect, {})
    sql = by_statement.get(statement)
    if sql is None:
        compiled = statement.compile(dialect=dialect)
        positions = tuple(compiled.positiontup) if compiled.positional else None
        # The statement's own values (literals, LIMIT); the request gives the named ones.
        fixed = {name: bind.effective_value for name, bind in compiled.binds.items()
                 if not bind.required}
        sql = by_statement[statement] = (str(compiled), fixed, positions)
    return sql


class _ConnectionLost(Exception):
    """A pooled connection of the dashboard's reads had been closed by the server."""


def _fetch(statement, params: dict, one: bool = False):
    """Run one of the dashboard's read statements; all rows as tuples, or the first.

    The dashboard's reads skip the ORM session and SQLAlchemy's execution layer: on the
    DBAPI cursor with SQL compiled once they cost a fraction of the CPU (the state read
    runs on every request, the chart reads on every uncached one). The one thing that layer
    did for them, noticing a connection the server has closed, is done here.
    """
    engine = _state_engine()
    try:
        return _run(engine, statement, params, one)
    except _ConnectionLost:
        # With no pre-ping, pooled connections the server has closed (a restart, an idle
        # timeout) fail once: drop them all, and the second try opens a new one.
        engine.dispose()
        return _run(engine, statement, params, one)


def _run(engine: sa.Engine, statement, params: dict, one: bool):
    sql, fixed, positions = _compiled(engine.dialect, statement)
    params = {**fixed, **params}
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(sql, params if positions is None else tuple(params[p] for p in positions))
            return cursor.fetchone() if one else cursor.fetchall()
        finally:
            cursor.close()
    except engine.dialect.loaded_dbapi.Error as exc:
        if not engine.dialect.is_disconnect(exc, connection.dbapi_connection, None):
            raise
        connection.invalidate(exc)
        raise _ConnectionLost(str(exc)) from exc
    finally:
        connection.close()


def _tenant_state(tenant_id: int) -> tuple:
    """(chart version, latest charted month, latest salary month) of the tenant, in one statement.

    Every dashboard request runs this, and on a cache hit nothing else touches the database.
    """
    return _fetch(_STATE, {"tenant_id": tenant_id}, one=True)


def cached_answer(tenant_id: int, preset: str | None, start: str | None, end: str | None,
                  department: str | None = None, requested_by_id: int | None = None) -> Answer:
    """Resolve the period and answer it, reusing the answer while the chart version is unchanged.

    One query reads the tenant's `ChartVersion` and latest months before any chart row,
    so an answer is never filed under a version newer than its data. Answers with a month
    still to re-sync are not kept, so such a month keeps asking for its sync. Raises
    PeriodError like `_resolve`.
    """
    version, charted, salaried = _tenant_state(tenant_id)
    period = _resolve(preset, start, end, lambda: _latest_of(charted, salaried))
    department = department or None
    max_age = float(current_app.config.get("DASHBOARD_CACHE_SECONDS", CACHE_SECONDS))
    key = (tenant_id, version or 0, period, department)
    answer = summary_cache().get(key, max_age) if max_age > 0 else None
    if answer is None:
        summary, complete = _build_summary(tenant_id, period, department, requested_by_id)
        summary["tenant_id"] = tenant_id
        answer = Answer(summary, json.dumps(summary, separators=(",", ":")).encode())
        if complete and max_age > 0:
            summary_cache().put(key, answer)
    return answer
