"""Payroll rules: one employee's month from plain values (pure: no Flask, no database).

The server applies these rules as the authority; static/js/payroll_rules.js mirrors them
line for line for live feedback, and tests/payroll/test_payroll_rules_js.py proves both agree.

Rules (issue 6):
- paid days = days basis − unpaid days. Unpaid days are the absent days HR typed; when
  absent is blank but present days are given, they are the month's calendar days −
  present − paid holidays. The days basis is a tenant setting: the month's calendar days,
  30, 26 or 30.4. Paid days never go below 0.
- daily rate = monthly ÷ days basis; hourly = daily ÷ (shift hours − break hours).
- salary for paid days = daily × paid days; OT pay = hourly × OT hours × OT multiplier;
  late deduction = hourly ÷ 60 × late minutes.
- gross = salary for paid days + OT − late + incentive, never below 0.
- TDS = TDS % of gross, or HR's override when one is given.
- statutory (each switched on per tenant, rates from paydash.payroll.statutory for the month's
  first day): PF = rate × basic up to the ceiling (basic = salary for paid days); ESI =
  rate × gross while gross ≤ the limit; professional tax by the state's slab on gross.
- advance = the least of the advance balance, 50% of pay after TDS and statutory
  deductions, and HR's figure (blank: nothing is recovered).
- net = gross − TDS − statutory − advance, never below 0, rounded to the rupee.

Rounding: rates are never rounded. Every money line is computed as one exact fraction of
integers (paise, hundredths of a day, hour or minute) and rounded half up to the paisa;
half of pay for the advance cap is rounded down, so the cap is never exceeded; only the
net is rounded, half up, to the rupee. Integer arithmetic is what lets the browser
reproduce every paisa with BigInt.
"""
import calendar
import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from decimal import InvalidOperation

from paydash.payroll import statutory

logger = logging.getLogger(__name__)

DAYS_BASES = ("calendar", "30", "26", "30.4")
MAX_MONEY = Decimal("9999999999.99")

# Input fields of a month's row: (name, label, kind). Kinds bound what a value may be.
INPUT_FIELDS = (
    ("present_days", "Present days", "days"),
    ("absent_days", "Absent days", "days"),
    ("paid_holidays", "Paid holidays", "days"),
    ("ot_hours", "OT hours", "hours"),
    ("late_minutes", "Late minutes", "minutes"),
    ("incentive", "Incentive", "money"),
    ("advance", "Advance deduction", "money"),
    ("tds_override", "TDS override", "money"),
)
_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")


@dataclass(frozen=True)
class Rules:
    """A tenant's rules for one month, statutory rates already resolved (None: off)."""

    days_basis: str
    days_in_month: int
    month: int
    shift_hours: Decimal
    break_hours: Decimal
    pf: statutory.PfRate | None = None
    esi: statutory.EsiRate | None = None
    pt: statutory.PtSchedule | None = None


@dataclass(frozen=True)
class Terms:
    """What the employee master says about one employee."""

    monthly_salary: Decimal
    ot_multiplier: Decimal = Decimal(1)
    tds_pct: Decimal = Decimal(0)
    advance_balance: Decimal = Decimal(0)


@dataclass(frozen=True)
class Inputs:
    """What HR typed for one employee and month; None means the cell was left blank."""

    present_days: Decimal | None = None
    absent_days: Decimal | None = None
    paid_holidays: Decimal | None = None
    ot_hours: Decimal | None = None
    late_minutes: Decimal | None = None
    incentive: Decimal | None = None
    advance: Decimal | None = None
    tds_override: Decimal | None = None


@dataclass(frozen=True)
class Pay:
    """One employee's computed month: days, then money in rupees (2 places; net whole)."""

    paid_days: Decimal
    unpaid_days: Decimal
    salary_for_paid_days: Decimal
    ot_pay: Decimal
    late_deduction: Decimal
    incentive: Decimal
    gross: Decimal
    tds: Decimal
    pf: Decimal
    esi: Decimal
    pt: Decimal
    advance: Decimal
    net: Decimal

    @property
    def statutory_total(self) -> Decimal:
        return self.pf + self.esi + self.pt

    @property
    def total_deductions(self) -> Decimal:
        return self.tds + self.pf + self.esi + self.pt + self.advance


def rules_for(year: int, month: int, *, days_basis: str, shift_hours: Decimal,
              break_hours: Decimal, pf_enabled: bool = False, esi_enabled: bool = False,
              pt_state: str | None = None) -> Rules:
    """A tenant's settings turned into the rules for one month."""
    if days_basis not in DAYS_BASES:
        raise ValueError(f"days basis must be one of {', '.join(DAYS_BASES)}")
    if Decimal(shift_hours) - Decimal(break_hours) <= 0:
        raise ValueError("shift hours must be longer than the break")
    first = dt.date(year, month, 1)
    return Rules(days_basis=days_basis, days_in_month=calendar.monthrange(year, month)[1],
                 month=month, shift_hours=Decimal(shift_hours), break_hours=Decimal(break_hours),
                 pf=statutory.pf_on(first) if pf_enabled else None,
                 esi=statutory.esi_on(first) if esi_enabled else None,
                 pt=statutory.pt_on(pt_state, first) if pt_state else None)


def rules_as_json(rules: Rules) -> dict:
    """The rules as JSON-ready strings: what static/js/payroll_rules.js computes from."""
    def plain(obj):
        return None if obj is None else {k: (str(v) if isinstance(v, Decimal) else v)
                                         for k, v in vars(obj).items() if k != "effective"}

    pt = None
    if rules.pt is not None:
        pt = {"half_yearly": rules.pt.half_yearly, "slabs": [plain(s) for s in rules.pt.slabs]}
    return {"days_basis": rules.days_basis, "days_in_month": rules.days_in_month,
            "month": rules.month, "shift_hours": str(rules.shift_hours),
            "break_hours": str(rules.break_hours),
            "statutory": {"pf": plain(rules.pf), "esi": plain(rules.esi), "pt": pt}}


# --- Exact integer arithmetic ------------------------------------------------------------


def _h(value: Decimal | None) -> int:
    """A value with at most two decimals as an integer count of hundredths."""
    return int((Decimal(value or 0) * 100).to_integral_value())


def _div_half_up(num: int, den: int) -> int:
    """num ÷ den rounded half away from zero (den > 0)."""
    if num < 0:
        return -_div_half_up(-num, den)
    return (2 * num + den) // (2 * den)


def _rupees(paise: int) -> Decimal:
    return Decimal(paise).scaleb(-2)


def basis_hundredths(rules: Rules) -> int:
    """The days basis in hundredths of a day (calendar: the month's own days)."""
    if rules.days_basis == "calendar":
        return rules.days_in_month * 100
    return _h(Decimal(rules.days_basis))


def unpaid_days_h(rules: Rules, inputs: Inputs) -> int:
    if inputs.absent_days is not None:
        return _h(inputs.absent_days)
    if inputs.present_days is not None:
        worked = _h(inputs.present_days) + _h(inputs.paid_holidays)
        return max(0, rules.days_in_month * 100 - worked)
    return 0


def professional_tax_paise(schedule: statutory.PtSchedule | None, gross_p: int, month: int) -> int:
    """The month's professional tax in paise for a gross of `gross_p` paise."""
    if schedule is None:
        return 0
    base = gross_p * 6 if schedule.half_yearly else gross_p
    tax = 0
    for slab in schedule.slabs:
        if base > _h(slab.above):
            amount = slab.february if (month == 2 and slab.february is not None) else slab.amount
            tax = _h(amount)
    return _div_half_up(tax, 6) if schedule.half_yearly else tax


def compute(rules: Rules, terms: Terms, inputs: Inputs) -> Pay:
    """One employee's pay for the month under `rules` (see the module docstring)."""
    monthly = _h(terms.monthly_salary)
    basis = basis_hundredths(rules)
    work = _h(rules.shift_hours) - _h(rules.break_hours)
    unpaid = unpaid_days_h(rules, inputs)
    paid = max(0, basis - unpaid)

    salary = _div_half_up(monthly * paid, basis)
    # hourly = monthly / (basis/100) / (work/100): paise × 10^4 / (basis × work).
    ot = _div_half_up(monthly * 10000 * _h(inputs.ot_hours) * _h(terms.ot_multiplier),
                      basis * work * 10000)
    late = _div_half_up(monthly * 10000 * _h(inputs.late_minutes), basis * work * 60 * 100)
    incentive = _h(inputs.incentive)
    gross = max(0, salary + ot - late + incentive)

    if inputs.tds_override is not None:
        tds = _h(inputs.tds_override)
    else:
        tds = _div_half_up(gross * _h(terms.tds_pct), 10000)
    pf = esi = 0
    if rules.pf is not None:
        pf = _div_half_up(min(salary, _h(rules.pf.ceiling)) * _h(rules.pf.rate_pct), 10000)
    if rules.esi is not None and gross <= _h(rules.esi.gross_limit):
        esi = _div_half_up(gross * _h(rules.esi.rate_pct), 10000)
    pt = professional_tax_paise(rules.pt, gross, rules.month)

    after_tax = gross - tds - pf - esi - pt
    advance = min(_h(terms.advance_balance), max(0, after_tax) // 2, _h(inputs.advance))
    advance = max(0, advance)
    net = max(0, after_tax - advance)
    net = (net + 50) // 100 * 100
    return Pay(paid_days=_rupees(paid), unpaid_days=_rupees(unpaid),
               salary_for_paid_days=_rupees(salary), ot_pay=_rupees(ot),
               late_deduction=_rupees(late), incentive=_rupees(incentive), gross=_rupees(gross),
               tds=_rupees(tds), pf=_rupees(pf), esi=_rupees(esi), pt=_rupees(pt),
               advance=_rupees(advance), net=_rupees(net))


# --- Reading what HR typed -------------------------------------------------------------


def parse_number(raw) -> Decimal | None:
    """A cell's text as a Decimal ("1,500", "₹ 1500.5"); None when blank; ValueError if not."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, (int, Decimal)):
        text = str(raw)
    elif isinstance(raw, float):
        text = repr(raw)
    else:
        text = str(raw).strip().replace(",", "").replace("₹", "").strip()
        if text.lower().startswith("rs"):
            text = text[2:].lstrip(". ")
    if text == "":
        return None
    if text.startswith("-") and _NUMBER.match(text[1:]):
        return Decimal(text)
    if not _NUMBER.match(text):
        raise ValueError(raw)
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(raw) from None


def _limit(kind: str, days_in_month: int) -> Decimal:
    return {"days": Decimal(days_in_month), "hours": Decimal(days_in_month * 24),
            "minutes": Decimal(days_in_month * 24 * 60), "money": MAX_MONEY}[kind]


def parse_inputs(raw: Mapping, days_in_month: int) -> tuple[Inputs | None, dict[str, str]]:
    """HR's cells for one row as Inputs, or None and a message per bad field."""
    values, errors = {}, {}
    for name, label, kind in INPUT_FIELDS:
        cell = raw.get(name)
        try:
            value = parse_number(cell)
        except ValueError:
            errors[name] = f"{label}: '{cell}' is not a number"
            continue
        if value is not None:
            message = _check_value(label, kind, value, days_in_month)
            if message:
                errors[name] = message
                continue
        values[name] = value
    if not errors:
        days = sum((values.get(n) or 0) for n in ("present_days", "absent_days", "paid_holidays"))
        if days > days_in_month:
            errors["present_days"] = (f"Present, absent and paid holidays add up to "
                                      f"{Decimal(days).normalize():f} days; "
                                      f"this month has {days_in_month}")
    if errors:
        return None, errors
    return Inputs(**values), {}


def _check_value(label: str, kind: str, value: Decimal, days_in_month: int) -> str | None:
    if value < 0:
        return f"{label} cannot be negative"
    limit = _limit(kind, days_in_month)
    if value > limit:
        return f"{label} cannot be more than {limit:,}"
    if value != value.quantize(Decimal("0.01"), rounding="ROUND_DOWN"):
        return f"{label}: use at most 2 decimal places"
    return None
