"""Statutory deduction rates (PF, ESI, professional tax) kept as data with effective dates.

Each table lists versions oldest first; `*_on(date)` returns the version in force that
day. Adding a new rate is adding a row, never editing code. Amounts are employee shares
in rupees per month. Professional tax uses the general slab of each state: Paydash keeps
no gender, so Maharashtra's exemption for women up to ₹25,000 is not applied.

The browser gets the rates in force through `payroll.rules_as_json`, so its live figures
use the very same data (see static/js/payroll_rules.js).
"""
import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PfRate:
    effective: dt.date
    rate_pct: Decimal   # employee share, % of basic
    ceiling: Decimal    # basic above this is not subject to PF


@dataclass(frozen=True)
class EsiRate:
    effective: dt.date
    rate_pct: Decimal   # employee share, % of gross
    gross_limit: Decimal  # no ESI once gross is above this


@dataclass(frozen=True)
class PtSlab:
    """Tax of `amount` for gross above `above` (the highest matching slab wins)."""

    above: Decimal
    amount: Decimal
    february: Decimal | None = None  # Maharashtra collects more in February


@dataclass(frozen=True)
class PtSchedule:
    effective: dt.date
    slabs: tuple[PtSlab, ...]
    # Tamil Nadu levies tax on half-yearly income: slabs are read against gross x 6 and the
    # half-yearly tax is spread over six months (amount / 6 a month).
    half_yearly: bool = False


def _d(value) -> Decimal:
    return Decimal(str(value))


def _slabs(*rows) -> tuple[PtSlab, ...]:
    return tuple(PtSlab(_d(above), _d(amount), _d(feb) if feb is not None else None)
                 for above, amount, feb in rows)


PF_RATES = (
    PfRate(dt.date(2001, 6, 1), _d(12), _d(6500)),
    PfRate(dt.date(2014, 9, 1), _d(12), _d(15000)),
)

ESI_RATES = (
    EsiRate(dt.date(2017, 1, 1), _d("1.75"), _d(21000)),
    EsiRate(dt.date(2019, 7, 1), _d("0.75"), _d(21000)),
)

PT_STATES = {
    "maharashtra": "Maharashtra",
    "karnataka": "Karnataka",
    "tamil_nadu": "Tamil Nadu",
    "west_bengal": "West Bengal",
    "gujarat": "Gujarat",
}

PT_SCHEDULES = {
    "maharashtra": (
        PtSchedule(dt.date(2012, 7, 1), _slabs((7500, 175, None), (10000, 200, 300))),
    ),
    "karnataka": (
        PtSchedule(dt.date(2015, 4, 1), _slabs((15000, 200, None))),
        # From April 2023 salaries below ₹25,000 a month pay nothing.
        PtSchedule(dt.date(2023, 4, 1), _slabs(("24999.99", 200, None))),
    ),
    "tamil_nadu": (
        PtSchedule(dt.date(2018, 4, 1), _slabs((21000, 135, None), (30000, 315, None),
                                               (45000, 690, None), (60000, 1025, None),
                                               (75000, 1250, None)), half_yearly=True),
    ),
    "west_bengal": (
        PtSchedule(dt.date(2008, 4, 1), _slabs((10000, 110, None), (15000, 130, None),
                                               (25000, 150, None), (40000, 200, None))),
    ),
    "gujarat": (
        PtSchedule(dt.date(2008, 4, 1), _slabs(("5999.99", 80, None), ("8999.99", 150, None),
                                               ("11999.99", 200, None))),
        # From April 2023 only salaries of ₹12,000 and more pay (₹200).
        PtSchedule(dt.date(2023, 4, 1), _slabs(("11999.99", 200, None))),
    ),
}


def _in_force(versions, on: dt.date):
    current = None
    for version in versions:
        if version.effective <= on:
            current = version
    if current is None:
        raise LookupError(f"no rate in force on {on.isoformat()}")
    return current


def pf_on(on: dt.date) -> PfRate:
    """The PF rate and wage ceiling in force on `on`."""
    return _in_force(PF_RATES, on)


def esi_on(on: dt.date) -> EsiRate:
    """The ESI rate and gross limit in force on `on`."""
    return _in_force(ESI_RATES, on)


def pt_on(state: str, on: dt.date) -> PtSchedule:
    """The professional tax schedule of `state` (a PT_STATES key) in force on `on`."""
    if state not in PT_SCHEDULES:
        raise LookupError(f"no professional tax table for '{state}'")
    return _in_force(PT_SCHEDULES[state], on)
