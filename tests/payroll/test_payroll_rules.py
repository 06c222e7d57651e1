"""The payroll rules (paydash/payroll/calculator.py) against hand-worked examples and properties.

EXAMPLES, BAD_CELLS and GOOD_CELLS are shared with tests/payroll/test_payroll_rules_js.py, which
runs the browser's mirror of the rules on the very same ones.
"""
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from paydash.payroll import calculator
from paydash.payroll import statutory

TEMPLATE = {"year": 2024, "month": 3, "days_basis": "30", "shift_hours": "9", "break_hours": "1"}

EXAMPLES = [
    {
        # The tenant template: SALARY 24,000, 30-day basis, 8 working hours.
        # HOUR RS = 24000/240 = 100; CHARGES = 10 h x 100 = 1,000; CHARGE = 100/60;
        # AMT = 30 x 100/60 = 50; SL W/O OT = 24000/30 x 28 = 22,400;
        # SAL+OT = 22400 + 1000 - 50 = 23,350; NETT = 23350 - 100 TDS - 500 adv = 22,750.
        "id": "template-arithmetic",
        "settings": TEMPLATE,
        "terms": {"monthly_salary": "24000", "advance_balance": "2000"},
        "cells": {"absent_days": "2", "ot_hours": "10", "late_minutes": "30",
                  "tds_override": "100", "advance": "500"},
        "expect": {"paid_days": "28.00", "salary_for_paid_days": "22400.00", "ot_pay": "1000.00",
                   "late_deduction": "50.00", "gross": "23350.00", "tds": "100.00",
                   "advance": "500.00", "net": "22750.00"},
    },
    {
        # SALARY 15,500 -> HOUR RS = 64.58333..; 7.5 h OT = 484.375 -> 484.38;
        # 45 min late = 48.4375 -> 48.44; 29.5 paid days = 15241.666.. -> 15241.67;
        # SAL+OT = 15677.61; NETT rounds to 15,678.
        "id": "template-paise-rounding",
        "settings": TEMPLATE,
        "terms": {"monthly_salary": "15500"},
        "cells": {"absent_days": "0.5", "ot_hours": "7.5", "late_minutes": "45"},
        "expect": {"paid_days": "29.50", "salary_for_paid_days": "15241.67", "ot_pay": "484.38",
                   "late_deduction": "48.44", "gross": "15677.61", "net": "15678.00"},
    },
    {
        # Calendar basis in February 2024 (29 days): present 20 + 4 holidays -> 5 unpaid.
        # 29,000/29 x 24 = 24,000; hourly 1000/8 = 125; OT 4 h x 125 x 1.5 = 750;
        # gross 24,750; TDS 10% = 2,475; net 22,275.
        "id": "calendar-basis-present-days",
        "settings": {"year": 2024, "month": 2, "days_basis": "calendar", "shift_hours": "9",
                     "break_hours": "1"},
        "terms": {"monthly_salary": "29000", "ot_multiplier": "1.5", "tds_pct": "10"},
        "cells": {"present_days": "20", "paid_holidays": "4", "ot_hours": "4"},
        "expect": {"paid_days": "24.00", "salary_for_paid_days": "24000.00", "ot_pay": "750.00",
                   "gross": "24750.00", "tds": "2475.00", "net": "22275.00"},
    },
    {
        # 26-day basis: 1,000 a day; 3 absent -> 23,000; + incentive 1,234.56 = 24,234.56;
        # advance: balance 50,000, HR asks 20,000, half of pay 12,117.28 wins.
        "id": "advance-capped-at-half",
        "settings": {"year": 2024, "month": 4, "days_basis": "26", "shift_hours": "8",
                     "break_hours": "0.5"},
        "terms": {"monthly_salary": "26000", "advance_balance": "50000"},
        "cells": {"absent_days": "3", "incentive": "1,234.56", "advance": "20000"},
        "expect": {"salary_for_paid_days": "23000.00", "gross": "24234.56",
                   "advance": "12117.28", "net": "12117.00"},
    },
    {
        # 30.4 basis: 30,400/30.4 = 1,000 a day, full month; the balance (750) limits the advance.
        "id": "basis-30-4-advance-balance",
        "settings": {"year": 2024, "month": 5, "days_basis": "30.4", "shift_hours": "9",
                     "break_hours": "1"},
        "terms": {"monthly_salary": "30400", "advance_balance": "750"},
        "cells": {"advance": "5000"},
        "expect": {"paid_days": "30.40", "salary_for_paid_days": "30400.00", "advance": "750.00",
                   "net": "29650.00"},
    },
    {
        # 1 paid day of 2,400 = 80; 10,000 late minutes at 10/60 = 1,666.67: gross floors at 0,
        # TDS override 500 leaves nothing: net 0, never negative.
        "id": "net-never-negative",
        "settings": TEMPLATE,
        "terms": {"monthly_salary": "2400"},
        "cells": {"absent_days": "29", "late_minutes": "10000", "tds_override": "500"},
        "expect": {"salary_for_paid_days": "80.00", "late_deduction": "1666.67",
                   "gross": "0.00", "tds": "500.00", "net": "0.00"},
    },
    {
        # Maharashtra in February: PF 12% of min(20,000, 15,000) = 1,800; gross 20,000 is
        # within 21,000 so ESI 0.75% = 150; professional tax 300 in February; net 17,750.
        "id": "statutory-maharashtra-february",
        "settings": {"year": 2025, "month": 2, "days_basis": "30", "shift_hours": "9",
                     "break_hours": "1", "pf_enabled": True, "esi_enabled": True,
                     "pt_state": "maharashtra"},
        "terms": {"monthly_salary": "20000"},
        "cells": {},
        "expect": {"gross": "20000.00", "pf": "1800.00", "esi": "150.00", "pt": "300.00",
                   "net": "17750.00"},
    },
    {
        # Gross 25,000 is above the ESI limit: no ESI; PF on 12,000 basic = 1,440;
        # West Bengal: 25,000 is in the 15,001-25,000 slab = 130; net 23,430.
        "id": "statutory-west-bengal-no-esi",
        "settings": {"year": 2025, "month": 6, "days_basis": "30", "shift_hours": "9",
                     "break_hours": "1", "pf_enabled": True, "esi_enabled": True,
                     "pt_state": "west_bengal"},
        "terms": {"monthly_salary": "12000"},
        "cells": {"incentive": "13000"},
        "expect": {"gross": "25000.00", "pf": "1440.00", "esi": "0.00", "pt": "130.00",
                   "net": "23430.00"},
    },
    {
        # Tamil Nadu is half-yearly: 40,000 x 6 = 2,40,000 > 75,000 -> 1,250 / 6 = 208.33.
        "id": "pt-tamil-nadu-half-yearly",
        "settings": {"year": 2024, "month": 7, "days_basis": "30", "shift_hours": "9",
                     "break_hours": "1", "pt_state": "tamil_nadu"},
        "terms": {"monthly_salary": "40000"},
        "cells": {},
        "expect": {"pt": "208.33", "net": "39792.00"},
    },
    {
        # Karnataka from April 2023: below 25,000 pays nothing.
        "id": "pt-karnataka-below-threshold",
        "settings": {"year": 2024, "month": 1, "days_basis": "30", "shift_hours": "9",
                     "break_hours": "1", "pt_state": "karnataka"},
        "terms": {"monthly_salary": "24999"},
        "cells": {},
        "expect": {"pt": "0.00", "net": "24999.00"},
    },
    {
        # Gujarat from April 2023: 12,000 and more pays 200.
        "id": "pt-gujarat",
        "settings": {"year": 2024, "month": 1, "days_basis": "30", "shift_hours": "9",
                     "break_hours": "1", "pt_state": "gujarat"},
        "terms": {"monthly_salary": "12000"},
        "cells": {},
        "expect": {"pt": "200.00", "net": "11800.00"},
    },
]

# HR's cells that are wrong, and the message each bad field gets (March: 31 days).
BAD_CELLS = [
    ({"ot_hours": "ten"}, {"ot_hours": "OT hours: 'ten' is not a number"}),
    ({"absent_days": "-1"}, {"absent_days": "Absent days cannot be negative"}),
    ({"incentive": "12.345"}, {"incentive": "Incentive: use at most 2 decimal places"}),
    ({"absent_days": "32"}, {"absent_days": "Absent days cannot be more than 31"}),
    ({"absent_days": "31.001"}, {"absent_days": "Absent days cannot be more than 31"}),
    ({"late_minutes": "50000"}, {"late_minutes": "Late minutes cannot be more than 44,640"}),
    ({"present_days": "20", "absent_days": "10.5", "paid_holidays": "1"},
     {"present_days": "Present, absent and paid holidays add up to 31.5 days; this month has 31"}),
]

# Cells that are fine however they were typed, with the value the rules read.
GOOD_CELLS = [
    ({"incentive": "₹ 1,500"}, {"incentive": "1500"}),
    ({"incentive": "Rs. 2,000.50"}, {"incentive": "2000.50"}),
    ({"ot_hours": " 4.5 "}, {"ot_hours": "4.5"}),
    ({"absent_days": "-0"}, {"absent_days": "0"}),
    ({"advance": ""}, {"advance": None}),
]


def rules_of(example_settings: dict) -> calculator.Rules:
    s = dict(example_settings)
    return calculator.rules_for(s.pop("year"), s.pop("month"), days_basis=s.pop("days_basis"),
                             shift_hours=Decimal(s.pop("shift_hours")),
                             break_hours=Decimal(s.pop("break_hours")), **s)


def terms_of(terms: dict) -> calculator.Terms:
    return calculator.Terms(**{k: Decimal(v) for k, v in terms.items()})


def compute_example(example: dict) -> calculator.Pay:
    rules = rules_of(example["settings"])
    inputs, errors = calculator.parse_inputs(example["cells"], rules.days_in_month)
    assert errors == {}
    return calculator.compute(rules, terms_of(example["terms"]), inputs)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["id"] for e in EXAMPLES])
def test_rules_match_the_hand_worked_example(example):
    pay = compute_example(example)
    got = {name: str(getattr(pay, name)) for name in example["expect"]}
    assert got == example["expect"]


def test_template_hour_rate_is_salary_over_240_on_a_30_day_8_hour_basis():
    rules = rules_of(TEMPLATE)
    pay = calculator.compute(rules, calculator.Terms(Decimal("36000")), calculator.Inputs(ot_hours=Decimal(1)))
    assert pay.ot_pay == Decimal("36000") / 240


def test_template_nett_payable_is_gross_less_tds_and_advances():
    pay = compute_example(EXAMPLES[0])
    assert pay.net == pay.gross - pay.tds - pay.advance


@pytest.mark.parametrize("cells,errors", BAD_CELLS,
                         ids=[next(iter(c)) + "-" + str(i) for i, (c, _e) in enumerate(BAD_CELLS)])
def test_bad_cells_get_a_message_naming_the_field(cells, errors):
    inputs, got = calculator.parse_inputs(cells, 31)
    assert inputs is None
    assert got == errors


@pytest.mark.parametrize("cells,values", GOOD_CELLS, ids=[str(i) for i in range(len(GOOD_CELLS))])
def test_numbers_typed_with_commas_rupee_signs_or_spaces_are_read(cells, values):
    inputs, errors = calculator.parse_inputs(cells, 31)
    assert errors == {}
    for name, value in values.items():
        assert getattr(inputs, name) == (None if value is None else Decimal(value))


def test_absent_days_win_over_present_days_when_both_are_typed():
    rules = rules_of(TEMPLATE)
    inputs = calculator.Inputs(present_days=Decimal(10), absent_days=Decimal(1))
    assert calculator.compute(rules, calculator.Terms(Decimal(3000)), inputs).paid_days == Decimal(29)


def test_tds_override_replaces_the_percentage():
    rules = rules_of(TEMPLATE)
    terms = calculator.Terms(Decimal(30000), tds_pct=Decimal(10))
    assert calculator.compute(rules, terms, calculator.Inputs()).tds == Decimal("3000.00")
    assert calculator.compute(rules, terms, calculator.Inputs(tds_override=Decimal(0))).tds == Decimal(0)


def test_pf_ceiling_follows_the_date_it_took_effect():
    assert statutory.pf_on(dt.date(2014, 8, 31)).ceiling == Decimal(6500)
    assert statutory.pf_on(dt.date(2014, 9, 1)).ceiling == Decimal(15000)


def test_unknown_days_basis_is_refused():
    with pytest.raises(ValueError, match="days basis"):
        calculator.rules_for(2024, 1, days_basis="31", shift_hours=Decimal(9), break_hours=Decimal(1))


money = st.decimals(min_value=0, max_value=500000, places=2, allow_nan=False, allow_infinity=False)
days = st.decimals(min_value=0, max_value=28, places=2, allow_nan=False, allow_infinity=False)
bases = st.sampled_from(calculator.DAYS_BASES)


@settings(max_examples=300, deadline=None)
@given(basis=bases, salary=money, absent=days, ot=st.decimals(0, 200, places=2),
       late=st.decimals(0, 5000, places=2), incentive=money, tds=st.one_of(st.none(), money),
       tds_pct=st.decimals(0, 100, places=2), balance=money, advance=st.one_of(st.none(), money),
       statutory_on=st.booleans())
def test_net_is_never_negative_and_always_whole_rupees(basis, salary, absent, ot, late, incentive,
                                                        tds, tds_pct, balance, advance,
                                                        statutory_on):
    rules = calculator.rules_for(2025, 2, days_basis=basis, shift_hours=Decimal(9),
                              break_hours=Decimal(1), pf_enabled=statutory_on,
                              esi_enabled=statutory_on,
                              pt_state="maharashtra" if statutory_on else None)
    pay = calculator.compute(rules, calculator.Terms(salary, Decimal("1.5"), tds_pct, balance),
                          calculator.Inputs(absent_days=absent, ot_hours=ot, late_minutes=late,
                                         incentive=incentive, tds_override=tds, advance=advance))
    assert pay.net >= 0
    assert pay.net == pay.net.to_integral_value()
    assert 0 <= pay.advance <= balance


@settings(max_examples=300, deadline=None)
@given(basis=bases, salary=money, fewer=days, more=days)
def test_salary_for_paid_days_never_falls_when_paid_days_rise(basis, salary, fewer, more):
    fewer, more = sorted((fewer, more))
    rules = calculator.rules_for(2024, 2, days_basis=basis, shift_hours=Decimal(9), break_hours=Decimal(1))
    terms = calculator.Terms(salary)
    # More absent days means fewer paid days.
    low = calculator.compute(rules, terms, calculator.Inputs(absent_days=more))
    high = calculator.compute(rules, terms, calculator.Inputs(absent_days=fewer))
    assert low.paid_days <= high.paid_days
    assert low.salary_for_paid_days <= high.salary_for_paid_days
    assert low.net <= high.net
    assert high.salary_for_paid_days <= salary
