"""A month imported from a salary sheet, as the browser month sheet shows and continues it.

An imported month is what the sheet said, to the paisa: the month sheet shows those rows
rather than recomputing them from the employee master (the sheet's own rules, rounding
and one-off amounts cannot be re-derived), so opening it flags nothing that was not in
the sheet. The next month starts from the sheet: each employee's TDS % and advance
balance are carried into the master, and the advance recovered is offered again.
"""
import logging
from decimal import Decimal
from itertools import repeat

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.models import Employee
from paydash.models import SalaryRow
from paydash.models import Upload
from paydash.models import UploadStatus

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
HUNDRED = Decimal(100)
_PG = postgresql.dialect()
TERMS_BATCH = 5000   # employees whose carried terms are written at a time
STATUTORY = (("pf", "pf_enabled", "PF"), ("esi", "esi_enabled", "ESI"),
             ("professional_tax", "pt_state", "professional tax"))


def is_imported(tenant_id: int, year: int, month: int) -> bool:
    """Were the month's salary rows stored from an upload (not saved from the browser)?"""
    return db.session.scalar(sa.select(SalaryRow.id).where(
        SalaryRow.tenant_id == tenant_id, SalaryRow.year == year, SalaryRow.month == month,
        SalaryRow.source == "excel").limit(1)) is not None


def imported_month(tenant, year: int, month: int, previous: dict[str, Decimal],
                   is_variance) -> dict | None:
    """The month's imported rows, totals, flags against last month, and notes; None if
    the month was not imported. `is_variance(net, previous)` says what is flagged."""
    if not is_imported(tenant.id, year, month):
        return None
    rows = db.session.scalars(sa.select(SalaryRow).where(
        SalaryRow.tenant_id == tenant.id, SalaryRow.year == year, SalaryRow.month == month)
        .order_by(SalaryRow.department, SalaryRow.employee_name, SalaryRow.employee_key)).all()
    people, flags = [], []
    totals = dict.fromkeys(("gross", "tds", "advance", "total_deductions", "net"), ZERO)
    for row in rows:
        item = {"code": row.employee_key, "name": row.employee_name,
                "department": row.department,
                **{name: _text(getattr(row, name)) for name in totals}}
        for name in totals:
            # Issue 15: one row without gross makes the month's gross total unknown, not less.
            value = getattr(row, name)
            totals[name] = None if value is None or totals[name] is None else totals[name] + value
        before = previous.get(row.employee_key)
        if before is not None and is_variance(row.net, before):
            flags.append({"code": row.employee_key, "name": row.employee_name,
                          "previous": str(before), "net": str(row.net)})
        people.append(item)
    upload = db.session.scalars(sa.select(Upload).where(
        Upload.tenant_id == tenant.id, Upload.year == year, Upload.month == month,
        Upload.status == UploadStatus.CONFIRMED.value).order_by(Upload.id.desc())).first()
    return {"rows": people, "totals": {k: _text(v) for k, v in totals.items()}, "flags": flags,
            "gross_unknown": totals["gross"] is None,
            "filename": upload.filename if upload else None,
            "upload_id": upload.id if upload else None,
            "notes": statutory_notes(tenant, rows)}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def statutory_notes(tenant, rows) -> list[str]:
    """Where the sheet's statutory deductions and the tenant's payroll settings disagree."""
    notes = []
    for key, setting, label in STATUTORY:
        in_sheet = any(Decimal((row.extra or {}).get(key) or 0) for row in rows)
        enabled = bool(getattr(tenant, setting))
        if in_sheet and not enabled:
            notes.append(f"The sheet deducts {label}, but {label} is off in Payroll settings: "
                         f"months worked out in the browser will not deduct it until it is "
                         "switched on.")
        elif enabled and not in_sheet:
            notes.append(f"{label} is on in Payroll settings, but the sheet deducts none: months "
                         "worked out in the browser will deduct it.")
    return notes


def carry_terms(tenant_id: int, year: int, month: int) -> int:
    """Put the sheet's TDS % and advance balance into the employee master (the count).

    Only from the tenant's latest month: re-importing an old month must not roll the
    master back. TDS % is the month's TDS over its gross; the advance balance is the
    sheet's "balance advance" column, where it has one. The caller commits.
    """
    if not is_latest_month(tenant_id, year, month):
        return 0
    # Each row with its employee, joined by the database (the code as the per-row lookup
    # took it: `(code or "").strip()[:64]`; imported codes have no other whitespace). In
    # order of employee, then sheet order, so that of two rows for one code the later wins,
    # as before, and an employee's rows are done when the next employee's begin: what they
    # change is written in batches of `TERMS_BATCH` employees, never kept for the whole
    # month (a 500,000-person first import kept 230 MB of it).
    code = sa.func.substr(sa.func.trim(sa.func.coalesce(SalaryRow.employee_code, "")), 1, 64)
    # Only the one key of `extra` that is needed, read by the database: parsing every row's
    # whole JSON was most of this step. Imports store it as text (`values.money_text`).
    balance = SalaryRow.extra["advance_balance"].as_string()
    # The values come as the driver gives them, and a row proven to leave the master as it
    # is (`_unchanged_real`, `_unchanged_numeric`; on a re-import, the usual case, every row)
    # is only counted: Decimals made of every value and each row's terms worked out from
    # them were most of this step.
    connection = db.session.connection()
    raw = sa.types.NullType()
    rows = connection.execute(
        sa.select(Employee.id, *(sa.type_coerce(column, raw) for column in (
                      Employee.tds_pct, Employee.advance_balance, SalaryRow.gross,
                      SalaryRow.tds)), balance)
        .join_from(SalaryRow, Employee, sa.and_(Employee.tenant_id == tenant_id,
                                                Employee.code == code))
        .where(SalaryRow.tenant_id == tenant_id, SalaryRow.year == year,
               SalaryRow.month == month, SalaryRow.source == "excel")
        .order_by(Employee.id, SalaryRow.id)
        .execution_options(yield_per=2000))
    number, unchanged = _as_orm(connection.dialect)
    now = utcnow()
    carried, pending = 0, {}
    # The employee whose rows are being read, and what its earlier rows wrote (None: nothing).
    current, written = None, None
    for employee_id, tds_pct, advance_balance, gross, tds, balance in rows:
        if employee_id != current:
            current, written = employee_id, None
            if len(pending) >= TERMS_BATCH:
                # Only employees whose rows are all read: the rest of the result is others'.
                _write_terms(pending, now)
                pending = {}
        if written is None:   # else compared with what an earlier row wrote
            stated = unchanged(tds_pct, advance_balance, gross, tds, balance)
            if stated is not None:
                carried += stated
                continue
        terms = terms_from_row(number(gross), number(tds),
                               None if balance is None else {"advance_balance": balance})
        if not terms:
            continue
        carried += 1
        # Only what differs is written: re-importing a month HR already has (the usual
        # case) updates nothing, and 100,000 no-op UPDATEs were most of a commit.
        tds_pct, advance_balance = written or (number(tds_pct), number(advance_balance))
        new = (terms.get("tds_pct", tds_pct), terms.get("advance_balance", advance_balance))
        if new != (tds_pct, advance_balance):
            # A code on two rows: the later is compared with what the earlier wrote, and
            # the terms it states overwrite the earlier's (as two UPDATEs in turn would).
            pending.setdefault(employee_id, {}).update(terms)
            written = new
    _write_terms(pending, now)
    logger.info("tenant %s %s-%02d: terms carried for %s employees", tenant_id, year, month,
                carried)
    return carried


def is_latest_month(tenant_id: int, year: int, month: int) -> bool:
    """Whether the month is the tenant's latest with salary rows: the only one whose terms
    are carried into the master."""
    latest = db.session.execute(
        sa.select(SalaryRow.year, SalaryRow.month).where(SalaryRow.tenant_id == tenant_id)
        .order_by(SalaryRow.year.desc(), SalaryRow.month.desc()).limit(1)).first()
    return latest is not None and (latest.year, latest.month) == (year, month)


def stated_terms_sql(dialect: str) -> dict:
    """`terms_from_row` of a salary row in SQL, for a new employee's INSERT that selects
    from `SalaryRow`: {"tds_pct": ..., "advance_balance": ...}, each 0 where the row states
    none, as a new employee starts.

    Only a guess, made so that a first import does not insert each person and then update
    them all (on PostgreSQL the 100,000 UPDATEs were 0.9 s of a 6 s commit). `carry_terms`
    still checks every row against the master afterwards and writes what the row really
    states wherever the guess differs (SQL's rounding of a half-hundredth tie, say). What
    must be exact is only when a term counts as stated: the same conditions as
    `terms_from_row`, so a term the row does not state stays 0. A row `carry_terms` does not
    read (no employee code: it joins by that code; not imported) gets neither.
    """
    carried = sa.and_(sa.func.trim(sa.func.coalesce(SalaryRow.employee_code, "")) != "",
                      SalaryRow.source == "excel")
    gross, tds = SalaryRow.gross, sa.func.coalesce(SalaryRow.tds, 0)
    # Literals, not bound Decimals: 100.0 keeps SQLite's arithmetic in REAL (a whole amount
    # is stored as an INTEGER there) and PostgreSQL's in numeric.
    hundred, zero = sa.literal_column("100.0"), sa.literal_column("0")
    least = sa.func.least if dialect == "postgresql" else sa.func.min
    tds_pct = sa.case((sa.and_(carried, gross > 0, tds >= 0),
                       least(hundred, sa.func.round(tds * hundred / gross, 2))), else_=zero)
    balance = SalaryRow.extra["advance_balance"].as_string()
    if dialect == "postgresql":
        # Only text a cast cannot refuse: anything else is left to `carry_terms`.
        number = sa.case((balance.regexp_match("^[0-9]+([.][0-9]+)?$"),
                          sa.cast(balance, sa.Numeric)))
    else:
        number = sa.cast(balance, sa.Numeric)
    advance_balance = sa.case((sa.and_(carried, number >= 0), number), else_=zero)
    return {"tds_pct": tds_pct, "advance_balance": advance_balance}


def _write_terms(pending: dict[int, dict], now) -> None:
    """Write each employee's carried terms (id -> {column: value}) and touch `updated_at`.

    One statement per set of columns, as the ORM's bulk UPDATE by primary key wrote them,
    but without its per-row work (most of a 100,000-person first import): on PostgreSQL
    one UPDATE ... FROM unnest(arrays), on SQLite the driver's executemany. Values go
    through each column's bind processor; `now` is the `updated_at` of the whole step.
    """
    if not pending:
        return
    connection = db.session.connection()
    dialect = connection.dialect
    groups: dict[tuple, list] = {}
    for employee_id, terms in pending.items():
        names = tuple(sorted(terms))
        groups.setdefault(names, []).append((employee_id, *(terms[name] for name in names)))
    if dialect.name not in ("postgresql", "sqlite"):
        for names, items in groups.items():
            db.session.execute(sa.update(Employee), [
                {"id": item[0], **dict(zip(names, item[1:])), "updated_at": now} for item in items])
        return
    raw = connection.connection.driver_connection
    table = Employee.__table__
    cursor = raw.cursor()
    try:
        for names, items in groups.items():
            if dialect.name == "postgresql":
                _update_from_arrays(cursor, table, names, items, now)
            else:
                _update_each(cursor, table, dialect, names, items, now)
    finally:
        cursor.close()


def _update_from_arrays(cursor, table: sa.Table, names: tuple, items: list, now) -> None:
    """PostgreSQL: the updates as one UPDATE joined with unnest() of a column array each."""
    columns = [table.c[name] for name in names]
    casts = ", ".join(f"%s::{column.type.compile(dialect=_PG)}[]" for column in columns)
    assigned = ", ".join(f'"{name}" = v."{name}"' for name in names)
    aliases = ", ".join(f'"{name}"' for name in names)
    statement = (f'UPDATE "{table.name}" SET {assigned}, "updated_at" = %s '
                 f'FROM unnest(%s::integer[], {casts}) AS v(id, {aliases}) '
                 f'WHERE "{table.name}".id = v.id')
    values = [list(column) for column in zip(*items)]
    cursor.execute(statement, [now, *values])


def _update_each(cursor, table: sa.Table, dialect, names: tuple, items: list, now) -> None:
    """SQLite: the driver's executemany (its C loop binds each row)."""
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                  for name in names]
    stamp = table.c.updated_at.type.dialect_impl(dialect).bind_processor(dialect)
    now = now if stamp is None else stamp(now)
    columns = [list(column) for column in zip(*items)]
    ids, values = columns[0], columns[1:]
    values = [column if process is None else list(map(process, column))
              for column, process in zip(values, processors)]
    assigned = ", ".join(f'"{name}" = ?' for name in names)
    cursor.executemany(f'UPDATE "{table.name}" SET {assigned}, "updated_at" = ? WHERE id = ?',
                       zip(*values, repeat(now), ids))


def _as_orm(dialect):
    """(to_decimal, unchanged) for the driver's values of these scale-2 Numeric columns: the
    Decimal the ORM would have made of one, and the check of a row that fits those values.

    SQLite gives REALs, which SQLAlchemy's processor makes Decimal("%.2f" % value) of;
    psycopg gives PostgreSQL's numeric as Decimal, which SQLAlchemy leaves as it is. Other
    databases have every row worked out.
    """
    if dialect.name == "postgresql":
        return (lambda value: value), _unchanged_numeric
    process = SalaryRow.gross.type.dialect_impl(dialect).result_processor(dialect, None)
    if dialect.name == "sqlite" and process is not None:
        return process, _unchanged_real
    return process or (lambda value: value), lambda *row: None


def _unchanged_real(tds_pct, advance_balance, gross, tds, balance) -> int | None:
    """SQLite: 1 or 0 (whether the row states a term) where its terms provably leave the
    employee's as they are, else None (then worked out from Decimals as `terms_from_row` does).

    In paise, where the arithmetic is exact (`_paise`): TDS % in hundredths is
    round-half-even(10000 * tds / gross) (Decimal's quantize), capped at 10000, so it is the
    master's p when 10000 * tds / gross lies strictly within p +- 1/2 (a tie is not proven).
    """
    stated = _balance_stated(advance_balance, balance, "%.2f".__mod__)
    if stated is None or gross is None:
        return stated            # gross NULL: no TDS % stated
    g = _paise(gross)
    t = 0 if tds is None else _paise(tds)
    if g is None or t is None:
        return None
    if g <= 0 or t < 0:
        return stated
    p = _paise(tds_pct)
    if p is not None and ((p == 10000 and 20000 * t > 19999 * g)
                          or (0 <= p < 10000 and (2 * p - 1) * g < 20000 * t < (2 * p + 1) * g)):
        return 1
    return None


def _unchanged_numeric(tds_pct, advance_balance, gross, tds, balance) -> int | None:
    """PostgreSQL: as `_unchanged_real`, in the Decimals psycopg gives.

    numeric(_, 2) values have two places, so the products below are exact (20 digits at
    most): TDS % is the master's p when 100 * tds lies strictly between (p -+ 0.005) * gross,
    or p is 100 and 100 * tds is above 99.995 * gross. NaN and infinities are not proven.
    """
    stated = _balance_stated(advance_balance, balance, str)
    if stated is None or gross is None:
        return stated
    if tds is None:
        tds = ZERO
    if not (gross.is_finite() and tds.is_finite() and tds_pct.is_finite()):
        return None
    if not gross > 0 or tds < 0:
        return stated
    hundredfold = tds * HUNDRED
    if tds_pct == HUNDRED:
        return 1 if hundredfold > _CAPPED * gross else None
    if ZERO <= tds_pct < HUNDRED and \
            (tds_pct - _HALF_CENT) * gross < hundredfold < (tds_pct + _HALF_CENT) * gross:
        return 1
    return None


_HALF_CENT, _CAPPED = Decimal("0.005"), Decimal("99.995")


def _balance_stated(advance_balance, balance, text) -> int | None:
    """0 where the row states no balance, 1 where it states exactly the master's as money
    text (`text` of the driver's value is the str of the ORM's Decimal), else None ("7.5",
    "-5.00" and the like are worked out)."""
    if balance is None:
        return 0
    if (balance.__class__ is str and balance[:1] != "-" and advance_balance is not None
            and balance == text(advance_balance)):
        return 1
    return None


def _paise(value) -> int | None:
    """A money value as whole paise where that is proven to be the ORM's Decimal, else None.

    Under 1e9 and within a thousandth of a paisa of whole paise (in float arithmetic, whose
    error there is below 1e-4 paise), "%.2f" makes exactly those paise of a REAL. PostgreSQL's
    numeric(_, 2) is whole paise already (its float is as near them). NaN is not proven.
    """
    if value is None:
        return None
    hundredfold = float(value) * 100
    if -1e11 < hundredfold < 1e11:
        paise = round(hundredfold)
        if -0.001 < hundredfold - paise < 0.001:
            return paise
    return None


def terms_from_row(gross, tds, extra: dict | None) -> dict:
    """TDS % and advance balance as the sheet's row implies them (only what it states)."""
    terms = {}
    gross, tds = Decimal(gross or 0), Decimal(tds or 0)
    if gross > 0 and tds >= 0:
        terms["tds_pct"] = min(HUNDRED, (tds * HUNDRED / gross).quantize(Decimal("0.01")))
    balance = (extra or {}).get("advance_balance")
    if balance is not None and Decimal(balance) >= 0:
        terms["advance_balance"] = Decimal(balance)
    return terms


def recoveries(tenant_id: int, year: int, month: int) -> dict[str, Decimal]:
    """Advance recovered per employee code in an imported month (to offer next month).

    The tenant's template recovers old advances in "OLD ADV" (kept as old_advance); other
    sheets in their advance column.
    """
    found = {}
    for code, advance, extra in db.session.execute(
            sa.select(SalaryRow.employee_code, SalaryRow.advance, SalaryRow.extra).where(
                SalaryRow.tenant_id == tenant_id, SalaryRow.year == year,
                SalaryRow.month == month, SalaryRow.source == "excel")):
        amount = Decimal((extra or {}).get("old_advance") or 0) or Decimal(advance or 0)
        if code and amount > 0:
            found[code] = amount
    return found
