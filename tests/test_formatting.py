"""Indian digit grouping on the server (paydash/formatting.py), and agreement with the
browser's `Paydash.fmt.num` (static/js/app.js, `Intl.NumberFormat("en-IN")`).
"""
import pathlib
import re
from decimal import Decimal

import pytest
from conftest import chromium_page
from flask import render_template_string

from paydash.formatting import amount
from paydash.formatting import indian_number

ROOT = pathlib.Path(__file__).resolve().parent.parent
APP_JS = ROOT / "static" / "js" / "app.js"

WHOLE = [
    (0, "0"),
    (7, "7"),
    (99, "99"),
    (999, "999"),
    (1000, "1,000"),
    (12345, "12,345"),
    (99999, "99,999"),
    (100000, "1,00,000"),
    (999999, "9,99,999"),
    (1234567, "12,34,567"),
    (10000000, "1,00,00,000"),
    (123456789, "12,34,56,789"),
    (1234567890123, "12,34,56,78,90,123"),
    (-7, "-7"),
    (-1000, "-1,000"),
    (-100000, "-1,00,000"),
    (-123456789, "-12,34,56,789"),
]

WITH_DECIMALS = [
    (Decimal("1234567.5"), 2, "12,34,567.50"),
    (Decimal("-1234567.5"), 2, "-12,34,567.50"),
    (Decimal("0.005"), 2, "0.01"),
    (0.005, 2, "0.01"),                     # the float as it prints, not its binary value
    (Decimal("0.004"), 2, "0.00"),
    (Decimal("-0.005"), 2, "-0.01"),        # halves round away from zero
    (Decimal("-0.001"), 2, "0.00"),         # a zero shows no sign
    (Decimal("99999.995"), 2, "1,00,000.00"),
    (Decimal("100000"), 2, "1,00,000.00"),
    (1234567.5, 2, "12,34,567.50"),
    (1234567, 2, "12,34,567.00"),
    ("1234567.5", 2, "12,34,567.50"),
    (" -42 ", 2, "-42.00"),
    (Decimal("1E+5"), 0, "1,00,000"),
    (Decimal("12.345"), 1, "12.3"),
    (Decimal("1234.5"), 0, "1,235"),
    (Decimal("2.5"), 0, "3"),
    (Decimal("-2.5"), 0, "-3"),
    (15000.0, 0, "15,000"),
    (Decimal("21000.00"), 0, "21,000"),
    (0, 3, "0.000"),
]


@pytest.mark.parametrize(("value", "expected"), WHOLE, ids=[str(v) for v, _ in WHOLE])
def test_whole_numbers_are_grouped_the_indian_way(value, expected):
    assert indian_number(value) == expected
    assert indian_number(Decimal(value)) == expected
    assert indian_number(str(value)) == expected


@pytest.mark.parametrize(("value", "decimals", "expected"), WITH_DECIMALS,
                         ids=[f"{v!r}-{d}" for v, d, _ in WITH_DECIMALS])
def test_decimals_are_exact_and_rounded_half_up(value, decimals, expected):
    assert indian_number(value, decimals) == expected


def test_amount_is_two_decimals():
    assert amount(Decimal("1234567.5")) == "12,34,567.50"
    assert amount(100000) == "1,00,000.00"
    assert amount(None) == "—"


@pytest.mark.parametrize("decimals", [0, 2])
def test_none_is_a_dash(decimals):
    assert indian_number(None, decimals) == "—"


@pytest.mark.parametrize("value", ["abc", "12,345", "", "NaN", "inf", float("nan"), float("inf")])
def test_what_is_not_a_finite_number_is_refused(value):
    with pytest.raises(ValueError):
        indian_number(value)


@pytest.mark.parametrize("value", [True, [1], object()])
def test_what_is_not_a_number_type_is_refused(value):
    with pytest.raises(TypeError):
        indian_number(value)


@pytest.mark.parametrize("decimals", [-1, 1.5, True])
def test_decimals_must_be_a_whole_number(decimals):
    with pytest.raises(ValueError):
        indian_number(1, decimals)


def test_the_filters_are_registered(app):
    with app.app_context():
        text = render_template_string("{{ a|num }} {{ b|amount }} {{ c|num(1) }} {{ d|num }}",
                                      a=100000, b=Decimal("1234567.5"), c=Decimal("1234.56"), d=None)
    assert text == "1,00,000 12,34,567.50 1,234.6 —"


def render_progress(app, p: dict) -> str:
    with app.test_request_context():
        html = render_template_string(
            '{% from "jobs/_macros.html" import progress %}{{ progress(p) }}', p=p)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_progress_macro_groups_the_indian_way(app):
    assert render_progress(app, {"done": 123456, "total": 1000000, "percent": 12}) == \
        "1,23,456 / 10,00,000"
    assert render_progress(app, {"done": 100000, "total": None}) == "1,00,000 done"


@pytest.mark.browser
def test_the_server_and_the_browser_group_numbers_alike(app):
    """`Paydash.fmt.num` in Chromium gives the same text as `indian_number`, and the progress
    macro prints what jobs.js `progressNodes` builds from it (`num(done) + " / " + num(total)`)."""
    numbers = [value for value, _ in WHOLE] + [5, 10**9, 98765432101]
    pairs = [(123456, 1000000), (0, 1), (999, 1000), (99999, 100000), (1234567, 123456789)]
    with chromium_page(locale="en-US") as page:  # en-IN is asked for explicitly, whatever the locale
        page.set_content("<!doctype html><title>fmt</title>")
        page.add_script_tag(path=str(APP_JS))
        in_browser = page.evaluate("(ns) => ns.map((n) => Paydash.fmt.num(n))", numbers)
        progress_in_browser = page.evaluate(
            "(ps) => ps.map(([d, t]) => Paydash.fmt.num(d) + ' / ' + Paydash.fmt.num(t))", pairs)
    assert in_browser == [indian_number(n) for n in numbers]
    assert progress_in_browser == [
        render_progress(app, {"done": done, "total": total}) for done, total in pairs]
    assert progress_in_browser[0] == "1,23,456 / 10,00,000"


def test_rupee_figures_and_sheet_messages_are_grouped_the_same_way():
    # Uploads' ₹ figures and the sheet checker's messages use the one formatter.
    from paydash.sheets.values import grouped
    from paydash.web.uploads import money
    assert money(Decimal("1234567.891")) == "₹12,34,567.89"
    assert money(-100000) == "-₹1,00,000.00"
    assert (money(None), money(""), money("n/a")) == ("—", "—", "n/a")
    assert grouped(Decimal("12345678.5")) == "1,23,45,678.50"
    assert grouped(Decimal("1e20")) == "1.000E+20"
