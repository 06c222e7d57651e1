"""The dashboard summary as main computed it at 03f1b43, before issue 18: the oracle that
tests/charts/test_dashboard_exact.py compares the faster path with, byte for byte.

Kept as it was (ORM session reads, one OR query per request for months without chart
rows, the Python sums over Row objects); only the imports were gathered here. Do not
"improve" it: its worth is that it is the earlier code.
"""
from collections import defaultdict

import sqlalchemy as sa

from paydash.charts import aggregation
from paydash.charts.queries import Period
from paydash.charts.queries import from_index
from paydash.charts.queries import month_key
from paydash.charts.queries import month_label
from paydash.extensions import db
from paydash.models import ChartAggregatedData

SUMMED = aggregation.MEASURES
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


_C = ChartAggregatedData.__table__.c
_C_INDEX = _C.year * 12 + _C.month - 1
_COLUMNS = (_C_INDEX.label("idx"), _C.kind, _C.department, _C.bucket, _C.label, _C.headcount,
            *(sa.cast(_C[m], sa.Float).label(m) for m in SUMMED))
FIRST_MEASURE = 6  # position of SUMMED[0] in a chart row
_RANGE_ROWS = sa.select(*_COLUMNS).where(
    _C.tenant_id == sa.bindparam("tenant_id"), _C.kind == sa.bindparam("kind"),
    _C.year.between(sa.bindparam("first_year"), sa.bindparam("last_year")),
    _C_INDEX.between(sa.bindparam("first"), sa.bindparam("last")))
_MONTH_ROWS = sa.select(*_COLUMNS).where(
    _C.tenant_id == sa.bindparam("tenant_id"), _C.kind.in_(sa.bindparam("kinds", expanding=True)),
    _C.year == sa.bindparam("year"), _C.month == sa.bindparam("month"))


def _range_rows(tenant_id: int, first: int, last: int, kind: str) -> list:
    """Chart rows of one kind for months first..last (indexes); figures as floats for display."""
    return db.session.execute(_RANGE_ROWS, {
        "tenant_id": tenant_id, "kind": kind, "first": first, "last": last,
        "first_year": from_index(first)[0], "last_year": from_index(last)[0]}).all()


def _month_rows(tenant_id: int, index: int, kinds: list[str]) -> list:
    year, month = from_index(index)
    return db.session.execute(_MONTH_ROWS, {"tenant_id": tenant_id, "kinds": kinds,
                                            "year": year, "month": month}).all()


def _money(value) -> float:
    """Round a float sum to the paisa (sums of a few hundred 2-decimal figures stay exact)."""
    return round(float(value or 0), 2)


class _Sums:
    """Running sums of every measure, and headcount per month (not additive over time)."""

    __slots__ = ("values", "heads", "no_gross")

    def __init__(self):
        self.values = [0.0] * len(SUMMED)
        self.heads: dict[int, int] = {}
        self.no_gross: set[int] = set()  # months whose sheet had no gross pay (issue 15)

    def add(self, row) -> None:
        values = self.values
        for i, value in enumerate(row[FIRST_MEASURE:]):
            values[i] += value or 0.0
        self.heads[row.idx] = self.heads.get(row.idx, 0) + row.headcount
        if row.gross is None:
            self.no_gross.add(row.idx)

    def merge(self, other: "_Sums") -> None:
        for i, value in enumerate(other.values):
            self.values[i] += value
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


def _bands(rows) -> list[dict]:
    counts = defaultdict(int)
    for r in rows:
        counts[r.bucket] += r.headcount
    return [{"band": bucket, "label": label, "short": short, "count": counts[bucket]}
            for bucket, label, short, _ in aggregation.BANDS]


def _top(rows, department: str | None) -> list[dict]:
    wanted = department if department else aggregation.ALL_DEPARTMENTS
    top = sorted((r for r in rows if r.department == wanted), key=lambda r: r.bucket)
    return [{"rank": int(r.bucket), "name": r.label, "net": _money(r.net),
             "gross": None if r.gross is None else _money(r.gross)}
            for r in top]


def _build_summary(tenant_id: int, period: Period, department: str | None,
                   requested_by_id: int | None) -> tuple[dict, bool]:
    """The summary, and whether every month with salary rows had its chart rows."""
    previous = period.previous()
    rows = _range_rows(tenant_id, previous.start, period.end, aggregation.DEPT)
    charted = {from_index(r.idx) for r in rows}
    wanted = [from_index(i) for i in range(previous.start, period.end + 1)]
    missing = aggregation.missing_periods(tenant_id, wanted, charted)
    refreshing = aggregation.ensure_synced(tenant_id, missing, requested_by_id) if missing else []
    if refreshing:  # In immediate mode the sync has already run: read what it wrote.
        rows = _range_rows(tenant_id, previous.start, period.end, aggregation.DEPT)
    departments = sorted({r.department for r in rows})
    has_data = any(r.idx >= period.start for r in rows)
    by_month, by_department = defaultdict(_Sums), defaultdict(_Sums)
    for r in rows:
        if department and r.department != department:
            continue
        by_month[r.idx].add(r)
        if r.idx >= period.start:
            by_department[r.department].add(r)
    current = _period_sums(by_month, period.start, period.end)
    before = _period_sums(by_month, previous.start, previous.end)
    detail_month = max(current.heads, default=period.end)
    detail = _month_rows(tenant_id, detail_month, [aggregation.BAND, aggregation.TOP])
    bands = [r for r in detail if r.kind == aggregation.BAND and (not department or r.department == department)]
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
        "bands": _bands(bands),
        "top_earners": _top([r for r in detail if r.kind == aggregation.TOP], department),
    }
    return summary, not missing

