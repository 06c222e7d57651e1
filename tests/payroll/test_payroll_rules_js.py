"""The browser's mirror of the rules (static/js/payroll_rules.js), run in Chromium, agrees
with paydash/payroll/calculator.py on every example of tests/payroll/test_payroll_rules.py and on random ones.
"""
import pathlib
import random
from decimal import Decimal

import pytest
from conftest import chromium_page
from test_payroll_rules import BAD_CELLS
from test_payroll_rules import EXAMPLES
from test_payroll_rules import GOOD_CELLS
from test_payroll_rules import rules_of
from test_payroll_rules import terms_of

from paydash.payroll import calculator

pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).resolve().parents[2]
RULES_JS = ROOT / "static" / "js" / "payroll_rules.js"
PAY_FIELDS = [name for name in calculator.Pay.__dataclass_fields__]


@pytest.fixture(scope="module")
def page():
    """One Chromium page with payroll_rules.js loaded, shared by the module's tests."""
    # Module scope: the function-scoped browser_page fixture would relaunch Chromium per example.
    with chromium_page() as page:
        page.set_content("<!doctype html><title>rules</title>")
        page.add_script_tag(path=str(RULES_JS))
        yield page


def js_compute(page, rules: calculator.Rules, terms: dict, cells: dict) -> dict:
    return page.evaluate(
        """([rules, terms, cells]) => {
             const parsed = PaydashRules.parseInputs(cells, rules.days_in_month);
             if (!parsed.inputs) return {errors: parsed.errors};
             return PaydashRules.compute(rules, terms, parsed.inputs);
           }""",
        [calculator.rules_as_json(rules), terms, cells])


def py_compute(rules: calculator.Rules, terms: dict, cells: dict) -> dict:
    inputs, errors = calculator.parse_inputs(cells, rules.days_in_month)
    if errors:
        return {"errors": errors}
    pay = calculator.compute(rules, terms_of(terms), inputs)
    return {name: str(getattr(pay, name)) for name in PAY_FIELDS}


def full_terms(terms: dict) -> dict:
    defaults = {"monthly_salary": "0", "ot_multiplier": "1", "tds_pct": "0", "advance_balance": "0"}
    return {**defaults, **terms}


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["id"] for e in EXAMPLES])
def test_browser_rules_give_the_servers_figures_on_the_example(page, example):
    rules = rules_of(example["settings"])
    terms = full_terms(example["terms"])
    assert js_compute(page, rules, terms, example["cells"]) == py_compute(rules, terms, example["cells"])


def test_browser_rules_give_the_servers_messages_for_bad_cells(page):
    rules = rules_of({"year": 2024, "month": 3, "days_basis": "30", "shift_hours": "9",
                      "break_hours": "1"})
    terms = full_terms({"monthly_salary": "10000"})
    for cells, errors in BAD_CELLS:
        assert js_compute(page, rules, terms, cells) == {"errors": errors}
    for cells, _values in GOOD_CELLS:
        assert js_compute(page, rules, terms, cells) == py_compute(rules, terms, cells)


def _random_case(rng: random.Random) -> tuple[dict, dict, dict]:
    def money(top):
        return f"{rng.randint(0, top * 100) / 100:.2f}"

    settings = {"year": rng.choice([2019, 2024, 2025]), "month": rng.randint(1, 12),
                "days_basis": rng.choice(calculator.DAYS_BASES),
                "shift_hours": rng.choice(["8", "9", "9.5", "12"]),
                "break_hours": rng.choice(["0", "0.5", "1"]),
                "pf_enabled": rng.random() < 0.5, "esi_enabled": rng.random() < 0.5,
                "pt_state": rng.choice([None, "maharashtra", "karnataka", "tamil_nadu",
                                        "west_bengal", "gujarat"])}
    terms = {"monthly_salary": money(150000), "ot_multiplier": rng.choice(["1", "1.5", "2"]),
             "tds_pct": rng.choice(["0", "5", "10", "12.5"]), "advance_balance": money(20000)}
    cells = {}
    if rng.random() < 0.5:
        cells["absent_days"] = f"{rng.randint(0, 56) / 2:g}"
    else:
        cells["present_days"] = str(rng.randint(0, 24))
        cells["paid_holidays"] = str(rng.randint(0, 4))
    cells["ot_hours"] = f"{rng.randint(0, 4000) / 100:.2f}"
    cells["late_minutes"] = str(rng.randint(0, 600))
    cells["incentive"] = money(5000)
    cells["advance"] = rng.choice(["", money(20000)])
    cells["tds_override"] = rng.choice(["", "", money(3000)])
    return settings, terms, cells


def test_browser_rules_agree_with_the_server_on_500_random_months(page):
    rng = random.Random(20240601)
    cases = [_random_case(rng) for _ in range(500)]
    rules = [rules_of(settings) for settings, _t, _c in cases]
    got = page.evaluate(
        """(cases) => cases.map(([rules, terms, cells]) => {
             const parsed = PaydashRules.parseInputs(cells, rules.days_in_month);
             return parsed.inputs ? PaydashRules.compute(rules, terms, parsed.inputs) : {errors: parsed.errors};
           })""",
        [[calculator.rules_as_json(r), t, c] for r, (_s, t, c) in zip(rules, cases)])
    expected = [py_compute(r, t, c) for r, (_s, t, c) in zip(rules, cases)]
    mismatches = [(cases[i], got[i], expected[i]) for i in range(len(cases)) if got[i] != expected[i]]
    assert mismatches == []


def test_browser_variance_flags_match_the_server(page):
    from paydash.payroll.monthly import is_variance  # noqa: PLC0415
    pairs = [("12000.00", "10000.00", "20"), ("12001.00", "10000.00", "20"),
             ("7999.00", "10000.00", "20"), ("100.00", "0.00", "20"), ("0.00", "0.00", "20"),
             ("10500.00", "10000.00", "4.99")]
    got = page.evaluate("(pairs) => pairs.map(([n, p, pct]) => PaydashRules.isVariance(n, p, pct))", pairs)
    assert got == [is_variance(Decimal(n), Decimal(p), Decimal(pct)) for n, p, pct in pairs]
    assert got == [False, True, True, True, False, True]
