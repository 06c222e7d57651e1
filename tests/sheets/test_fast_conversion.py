"""Issue 18: the faster row conversion gives exactly what the per-cell Decimal path gave.

References as they were at 03f1b43: `rows_before` (that commit's rows.py, from git: every
cell through `to_decimal`) and `checks.check_row` itself. The new path remembers each distinct cell
value's Decimal (`rows.CellMemo`) and checks usual rows without building messages
(`checks.RowChecks`); these tests compare the two on random cells and random rows, down
to the Decimal's exponent (Decimal("5") and Decimal("5.00") print differently).
"""
import datetime as dt
from decimal import Decimal

from earlier_code import module_at
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from paydash.sheets import checks
from paydash.sheets.headers import FIELDS
from paydash.sheets.headers import Column
from paydash.sheets.rows import NUMBER_FIELDS
from paydash.sheets.rows import CellMemo
from paydash.sheets.rows import RowConverter
from paydash.sheets.salary_sheet import SheetReport
from paydash.sheets.values import NotANumber
from paydash.sheets.values import money_text
from paydash.sheets.values import to_exact

EXTRAS = [name for name, spec in FIELDS.items() if spec.extra]


# The conversion as it was, from git: every cell through to_decimal, no memo.
rows_before = module_at("03f1b43", "paydash/sheets/rows.py", "rows_before")


def exactly(value):
    """A value with its exact form: a Decimal's sign, digits and exponent, and its class."""
    if isinstance(value, Decimal):
        return ("Decimal", value.as_tuple())
    if isinstance(value, dict):
        return {key: exactly(v) for key, v in value.items()}
    return value


# Cells as a sheet gives them: numbers, numbers typed as text in the ways people type money,
# blanks, words, and the odd other type. Repeated values matter: they are what is remembered.
MONEY_TEXT = st.builds(
    lambda sign, whole, cents, prefix, grouping, suffix: (
        f"{prefix}{sign}{whole:,}{cents}{suffix}" if grouping else f"{prefix}{sign}{whole}{cents}{suffix}"),
    st.sampled_from(["", "-", "+"]), st.integers(0, 10**13),
    st.sampled_from(["", ".5", ".50", ".005", ".125", ".99999", ".", ".0"]),
    st.sampled_from(["", "₹", "₹ ", "Rs.", "Rs ", "INR ", " "]), st.booleans(),
    st.sampled_from(["", "/-", " ", "\u00a0"]))
CELLS = st.one_of(
    st.integers(-10**15, 10**15), st.integers(), st.booleans(), st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e13, 1e13).map(lambda f: round(f, 7)),
    st.decimals(allow_nan=True, allow_infinity=False, places=None),
    MONEY_TEXT, MONEY_TEXT.map(lambda t: f"({t})"),
    st.sampled_from(["", "  ", "-", "–", "nil", "None", "abc", "12a", "1e5", "0", "-0", "-0.00",
                     "1,00,000", " 45,000.00 ", "(1,200)", "TRUE", "NaN", "Infinity"]),
    st.just(dt.date(2024, 4, 1)), st.text(max_size=6))


def template_columns(fields):
    return [Column(i, i, name.upper(), name) for i, name in enumerate(fields)]


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(CELLS, min_size=0, max_size=8), min_size=1, max_size=12),
       fields=st.permutations(NUMBER_FIELDS + EXTRAS).map(lambda f: f[:8]))
def test_remembered_cells_give_exactly_the_old_decimals_and_errors(rows, fields):
    columns = template_columns(fields)
    new = RowConverter(columns, SheetReport())
    old = rows_before.RowConverter(columns, SheetReport())
    plan = new.number_plan + new.extra_plan
    for number, cells in enumerate(rows + rows, start=2):   # twice: the second time remembered
        new_record, new_ok, not_negative = new._numbers(cells, number, plan)
        old_record, old_ok = old._numbers(cells, number, old.numbers + old.extras)
        assert exactly(new_record) == exactly(old_record)
        assert list(new_record) == list(old_record)
        assert new_ok == old_ok
        if not_negative:   # what lets the row checks skip looking for negative amounts
            assert all(v is None or v >= 0 for v in new_record.values())
            assert all(v is None or abs(v) <= FIELDS[f].limit for f, v in new_record.items())
    assert [e.as_dict() for e in new.report.errors] == [e.as_dict() for e in old.report.errors]


@settings(max_examples=300, deadline=None)
@given(values=st.lists(CELLS, max_size=40))
def test_remembered_exact_values_and_texts_are_the_unremembered_ones(values):
    memo = CellMemo()
    for value in values + values:
        try:
            expected = to_exact(value)
        except NotANumber:
            continue
        assert exactly(memo.exact(value)) == exactly(expected)
        if expected is not None and expected.is_finite() and abs(expected) < Decimal("1e20"):
            assert memo.money_text(expected) == money_text(expected)


def test_zero_and_minus_zero_keep_their_own_text():
    memo = CellMemo()
    assert memo.money_text(Decimal("0")) == "0.00"
    assert memo.money_text(Decimal("-0")) == money_text(Decimal("-0")) == "-0.00"
    assert memo.money_text(Decimal("0")) == "0.00"


def test_true_is_not_taken_for_a_remembered_one():
    converter = RowConverter(template_columns(["net", "gross"]), SheetReport())
    plan = converter.number_plan
    assert converter._numbers([1, 1.0], 2, plan) == ({"net": Decimal(1), "gross": Decimal(1)}, True, True)
    assert converter.cells.plain_memo == {1: Decimal(1)}
    assert converter._numbers([1, 1.0], 2, plan) == ({"net": Decimal(1), "gross": Decimal(1)}, True, True)
    record, ok, _not_negative = converter._numbers([True, Decimal("1.50")], 3, plan)
    assert not ok and record == {"gross": Decimal("1.50")}
    assert "'TRUE' is not a number" in converter.report.errors[0].message


AMOUNTS = st.one_of(st.none(), st.decimals(-10**6, 10**6, places=2),
                    st.sampled_from([Decimal(0), Decimal("-0.01"), Decimal("1.005")]))
CHECKED = ["gross", "net", "tds", "advance", "other_deductions", "total_deductions",
           "late_deduction", "paid_days", "ot_hours", "pf", "esi", "professional_tax",
           "incentive", "old_advance", "employee_name"]


@settings(max_examples=500, deadline=None)
@given(present=st.sets(st.sampled_from(CHECKED)), data=st.data())
def test_row_checks_find_what_check_row_finds(present, data):
    present = present | {"employee_name"}
    if data.draw(st.booleans()):
        present |= {"gross", "net"}          # what the balance check needs
    headers = {field: field.upper() for field in sorted(present)}
    record = {name: data.draw(AMOUNTS) for name in NUMBER_FIELDS}
    record["gross"] = data.draw(AMOUNTS) or Decimal(0)
    record["net"] = data.draw(AMOUNTS) or Decimal(0)
    record["total_deductions"] = data.draw(AMOUNTS) or Decimal(0)
    for name in ("tds", "advance", "other_deductions"):
        record[name] = data.draw(AMOUNTS) or Decimal(0)
    if data.draw(st.booleans()):            # deductions as they usually are: not negative
        for name in ("total_deductions", "tds", "advance", "other_deductions"):
            record[name] = abs(record[name])
    extra = {name: data.draw(AMOUNTS) for name in ("pf", "esi", "professional_tax", "old_advance")
             if name in present}
    # Often a row near the edge: net a rupee (or a paisa either side of it) off the balance.
    offset = data.draw(st.sampled_from([None, Decimal(1), Decimal(-1), Decimal("1.01"),
                                        Decimal("-0.99"), Decimal(0)]))
    if offset is not None:
        stated = record["total_deductions"] if "total_deductions" in present else sum(
            (record[f] for f in ("tds", "advance", "other_deductions")), Decimal(0))
        record["net"] = record["gross"] - stated + offset
    fast = checks.RowChecks(present, headers).check(record, extra, 7)
    assert fast == checks.check_row(record, extra, present, headers, 7)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(st.one_of(CELLS, st.sampled_from(["E1", "Asha", "Sales"])),
                              min_size=0, max_size=9), min_size=1, max_size=15),
       fields=st.permutations(NUMBER_FIELDS + EXTRAS).map(lambda f: f[:7]))
def test_whole_rows_convert_as_without_the_plain_shortcut(rows, fields):
    """Rows through `convert` (twice, so values are remembered): the stored dicts, errors,
    warnings and totals are the same as a converter that never takes a value as plain."""
    def never_plain(converter):
        converter.cells.plain_memo = _NeverRemembers()
    assert_converts_alike(rows, fields, RowConverter(converter_columns(fields), SheetReport()),
                          never_plain)


def converter_columns(fields: list[str]) -> list[Column]:
    """A code, a name, then `fields` in turn: the table the converter tests below use."""
    return [Column(0, 0, "CODE", "employee_code"), Column(1, 1, "NAME", "employee_name"),
            *[Column(i + 2, i + 2, f.upper(), f) for i, f in enumerate(fields)]]


def assert_converts_alike(rows: list[list], fields: list[str], old: RowConverter,
                          prepare=lambda converter: None) -> None:
    """Today's RowConverter and `old` (made the same way, then changed by `prepare`) give the
    same dicts for `rows` (each after a code and a name, all twice, so values are
    remembered), and the same errors, warnings and totals."""
    prepare(old)
    new = RowConverter(converter_columns(fields), SheetReport())
    for number, cells in enumerate(rows + rows, start=2):
        cells = ["E1", "Asha", *cells]
        assert exactly(new.convert(list(cells), number)) == exactly(old.convert(list(cells), number))
    new.finish()
    old.finish()
    assert new.report.as_preview() == old.report.as_preview()
    assert new.report.check_warning_count == old.report.check_warning_count


class _NeverRemembers(dict):
    def __setitem__(self, key, value):
        pass
