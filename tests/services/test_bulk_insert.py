"""Bulk insert of salary rows (COPY on PostgreSQL, executemany on SQLite) stores what sa.insert stores."""
import json
import random
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import dispose_app
from conftest import make_app
from conftest import statements_during
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from paydash.extensions import db
from paydash.models import SalaryRow
from paydash.services import bulk_insert

COMPARED = ("employee_key", "employee_code", "employee_name", "department", "designation",
            "fixed_salary", "paid_days", "ot_hours", "gross", "tds", "net", "extra", "source",
            "sheet_row")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_app(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'bulk.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    app = make_app(base_config(tmp_path, url, HUEY_IMMEDIATE=True))
    people = People(app)
    yield app, people.tenant_a
    dispose_app(app)


def rows(tenant_id: int, month: int) -> list[dict]:
    return [
        {"tenant_id": tenant_id, "year": 2025, "month": month, "employee_key": "E001",
         "employee_code": "E001", "employee_name": "Ravi O'Brien, \"Jr\"\tand\\co",
         "department": "Sales", "fixed_salary": Decimal("30000.25"), "paid_days": Decimal("30"),
         "gross": Decimal("123456789012.34"), "tds": Decimal("0.01"), "net": Decimal("-5.50"),
         "extra": {"PF": "1,800.00", "note": "line\nbreak"}, "sheet_row": 2},
        # Left out: name, department, money and source take the columns' defaults.
        {"tenant_id": tenant_id, "year": 2025, "month": month, "employee_key": "E002",
         "employee_code": None, "extra": None, "sheet_row": None},
    ]


def stored(month: int) -> list[tuple]:
    result = db.session.execute(sa.select(*(getattr(SalaryRow, name) for name in COMPARED))
                                .where(SalaryRow.month == month).order_by(SalaryRow.employee_key))
    return [tuple(row) for row in result]


def test_bulk_insert_stores_exactly_what_sqlalchemy_insert_stores(database_app):
    app, tenant_id = database_app
    with app.app_context():
        assert bulk_insert.insert_rows(db.session, SalaryRow.__table__, rows(tenant_id, 1)) == 2
        for row in rows(tenant_id, 2):  # one at a time: executemany wants the same keys
            db.session.execute(sa.insert(SalaryRow.__table__), row)
        db.session.commit()
        ours, theirs = stored(1), stored(2)
    assert ours == theirs
    assert ours[0][5] == Decimal("30000.25") and ours[0][8] == Decimal("123456789012.34")
    assert ours[0][2] == "Ravi O'Brien, \"Jr\"\tand\\co" and ours[0][11]["note"] == "line\nbreak"
    assert ours[1][2:4] == ("", "Unassigned") and ours[1][8] == Decimal(0) and ours[1][12] == "excel"


def test_bulk_insert_goes_around_sqlalchemys_per_row_statement_handling(database_app):
    app, tenant_id = database_app
    with app.app_context():
        db.session.connection()  # the transaction starts before the listener looks
        seen, _ = statements_during(
            lambda: bulk_insert.insert_rows(db.session, SalaryRow.__table__, rows(tenant_id, 5)))
        db.session.commit()
        assert len(stored(5)) == 2
    assert not [statement for statement in seen if "INSERT" in statement.upper()]


def test_bulk_insert_is_part_of_the_callers_transaction(database_app):
    app, tenant_id = database_app
    with app.app_context():
        bulk_insert.insert_rows(db.session, SalaryRow.__table__, rows(tenant_id, 3))
        db.session.rollback()
        assert stored(3) == []


def test_a_key_that_is_not_a_column_is_an_error_not_a_silent_drop(database_app):
    app, tenant_id = database_app
    with app.app_context(), pytest.raises(KeyError, match="grosss"):
        bulk_insert.insert_rows(db.session, SalaryRow.__table__,
                                [dict(rows(tenant_id, 4)[0], grosss=Decimal(1))])


# --- By column (the staged import's batches) --------------------------------------------------

FIXED = ("tenant_id", "year", "month")


def as_columns(rows: list[dict], fixed=FIXED) -> tuple[dict, dict]:
    """The rows (all with the same keys) as columns, the keys in `fixed` as one value each."""
    names = [name for name in rows[0] if name not in fixed]
    return ({name: [row[name] for row in rows] for name in names},
            {name: rows[0][name] for name in fixed})


def full_rows(tenant_id: int, month: int) -> list[dict]:
    """Rows with the same keys (as the staged rows have), every kind of value in them."""
    first, second = rows(tenant_id, month)
    keys = set(first) | set(second)
    second = {name: second.get(name) for name in keys}
    second.update(employee_name="Meena", department="Stores", fixed_salary=Decimal("0"),
                  paid_days=None, gross=None, tds=Decimal("-0.00"), net=Decimal("1E+3"))
    third = dict(first, employee_key="E003", extra={}, fixed_salary=Decimal("5"),
                 paid_days=Decimal("0.125"))
    return [first, second, third]


def stored_exactly(month: int) -> list[tuple]:
    """`stored`, with each number and the JSON as the database holds them (text)."""
    raw = [sa.cast(getattr(SalaryRow, name), sa.Text).label(f"{name}_text") for name in ("fixed_salary", "paid_days",
                                                                    "gross", "tds", "net", "extra")]
    result = db.session.execute(sa.select(*(getattr(SalaryRow, name) for name in COMPARED), *raw)
                                .where(SalaryRow.month == month).order_by(SalaryRow.employee_key))
    return [tuple(row) for row in result]


def test_insert_by_column_stores_exactly_what_insert_rows_and_sqlalchemy_insert_store(database_app):
    app, tenant_id = database_app
    with app.app_context():
        columns, fixed = as_columns(full_rows(tenant_id, 6))
        assert bulk_insert.insert_columns(db.session, SalaryRow.__table__, columns, fixed) == 3
        assert bulk_insert.insert_rows(db.session, SalaryRow.__table__, full_rows(tenant_id, 7)) == 3
        for row in full_rows(tenant_id, 8):
            db.session.execute(sa.insert(SalaryRow.__table__), row)
        db.session.commit()
        by_column, by_row = stored_exactly(6), stored_exactly(7)
        by_sqlalchemy = stored(8)
    assert by_column == by_row
    # As read back; stored, a None `extra` is SQL NULL from both bulk paths but JSON 'null'
    # from sa.insert (bulk_insert never gives None to a processor).
    assert [row[:len(COMPARED)] for row in by_column] == by_sqlalchemy
    assert by_column[1][8] is None and by_column[1][6] is None and by_column[1][11] is None
    assert by_column[2][11] == {} and by_column[0][11]["note"] == "line\nbreak"


def test_insert_by_column_goes_around_sqlalchemy_and_joins_the_transaction(database_app):
    app, tenant_id = database_app
    with app.app_context():
        db.session.connection()
        columns, fixed = as_columns(full_rows(tenant_id, 9))
        seen, _ = statements_during(lambda: bulk_insert.insert_columns(
            db.session, SalaryRow.__table__, columns, fixed))
        assert not [statement for statement in seen if "INSERT" in statement.upper()]
        assert len(stored(9)) == 3
        db.session.rollback()
        assert stored(9) == []


def test_insert_by_column_refuses_what_it_cannot_store_as_asked(database_app):
    app, tenant_id = database_app
    columns, fixed = as_columns(full_rows(tenant_id, 10))
    with app.app_context():
        with pytest.raises(KeyError, match="grosss"):
            bulk_insert.insert_columns(db.session, SalaryRow.__table__,
                                       dict(columns, grosss=[1, 2, 3]), fixed)
        with pytest.raises(ValueError, match="different lengths"):
            bulk_insert.insert_columns(db.session, SalaryRow.__table__,
                                       dict(columns, net=[Decimal(1)]), fixed)
        with pytest.raises(ValueError, match="both"):
            bulk_insert.insert_columns(db.session, SalaryRow.__table__, columns,
                                       dict(fixed, net=Decimal(1)))
        assert bulk_insert.insert_columns(db.session, SalaryRow.__table__, {}, fixed) == 0


# --- Decimals given as their text (the staged import's numbers) ------------------------------

ODD_DECIMALS = ["-0.00", "1E+3", "0.125", "0E-8", "123456789012.34", "0.1", "1.005", "99999.995",
                "5", "5.00", "-5.50", "0.01", "3.3333333333333333333", "1.5E-7", None]


def decimal_rows(tenant_id: int, month: int) -> list[dict]:
    """Rows whose money columns hold every kind of Decimal text `str(Decimal)` gives (None
    only where the column takes NULL)."""
    generator = random.Random(7)
    texts = ODD_DECIMALS + [f"{generator.randint(-10**9, 10**9) / 100:.2f}" for _ in range(200)]
    given = [text for text in texts if text is not None]
    return [{"tenant_id": tenant_id, "year": 2025, "month": month, "employee_key": f"E{n:04}",
             "employee_code": f"E{n}", "extra": None, "sheet_row": n,
             "fixed_salary": given[n % len(given)], "gross": texts[-1 - n],
             "net": given[(n * 7) % len(given)], "tds": given[(n * 3) % len(given)],
             "paid_days": None if text is None else str(Decimal(text) % 1000)}
            for n, text in enumerate(texts)]


def as_decimals(rows: list[dict]) -> list[dict]:
    return [{name: Decimal(value) if name in MONEY_TEXTS and value is not None else value
             for name, value in row.items()} for row in rows]


MONEY_TEXTS = ("fixed_salary", "gross", "net", "tds", "paid_days")


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "sqlalchemy insert"])
def test_decimals_given_as_text_store_exactly_what_the_decimals_store(database_app, monkeypatch,
                                                                       fast):
    app, tenant_id = database_app
    if not fast:  # the path for other databases: the texts become Decimals for sa.insert
        monkeypatch.setattr(bulk_insert, "_plan", lambda *args: None)
    with app.app_context():
        texts, fixed = as_columns(decimal_rows(tenant_id, 11))
        decimals, _ = as_columns(as_decimals(decimal_rows(tenant_id, 12)))
        assert bulk_insert.insert_columns(db.session, SalaryRow.__table__, texts, fixed,
                                          decimal_texts=MONEY_TEXTS) == len(ODD_DECIMALS) + 200
        bulk_insert.insert_columns(db.session, SalaryRow.__table__, decimals,
                                   dict(fixed, month=12))
        db.session.commit()
        from_texts, from_decimals = stored_exactly(11), stored_exactly(12)
    assert from_texts == from_decimals
    # Where the text has the column's two places, what is stored is the text's value.
    given = [row["fixed_salary"] for row in decimal_rows(tenant_id, 11)]
    plain = [(row[COMPARED.index("fixed_salary")], Decimal(text))
             for row, text in zip(from_texts, given) if re.fullmatch(r"-?\d+(\.\d\d?)?", text)]
    assert len(plain) > 200 and all(stored == expected for stored, expected in plain)
    assert [row[COMPARED.index("paid_days")] for row in from_texts][len(ODD_DECIMALS) - 1] is None


def test_a_decimal_text_with_another_bind_processor_becomes_the_decimal_first():
    def process(value):
        return ("bound", value)
    assert bulk_insert._decimals_bound(["1.5", None, "1E+3"], process) == [
        ("bound", Decimal("1.5")), None, ("bound", Decimal("1E+3"))]
    assert bulk_insert._decimals_bound(["1.5", None], None) == ["1.5", None]


# --- JSON written without json.dumps's encoder per value (issue 18) --------------------------

ODD_EXTRAS = [{"PF": "1,800.00", "note": "line\nbreak"}, {}, {"ü": "é\u2028\"\\", "n": [1.5, -0.0, 10**20]},
              {"nested": {"a": [None, True, False, "x"]}, "big": 1e300}, {"tab\t": "\x00"}, ["a", 1]]


def json_texts(month: int) -> list[str]:
    return db.session.scalars(sa.select(sa.cast(SalaryRow.extra, sa.Text))
                              .where(SalaryRow.month == month).order_by(SalaryRow.employee_key)).all()


def extra_rows(tenant_id: int, month: int) -> list[dict]:
    return [{"tenant_id": tenant_id, "year": 2025, "month": month, "employee_key": f"E{i:03}",
             "extra": extra} for i, extra in enumerate(ODD_EXTRAS)]


@pytest.mark.parametrize("serializer", [None, "ensure_ascii=False"])
def test_json_is_stored_as_the_text_sqlalchemy_insert_stores(request, tmp_path, serializer):
    for kind in ("sqlite", "postgresql"):
        url = (f"sqlite:///{tmp_path / f'json-{serializer}.db'}" if kind == "sqlite"
               else request.getfixturevalue("pg_url"))
        options = ({"json_serializer": lambda value: json.dumps(value, ensure_ascii=False)}
                   if serializer else {})
        app = make_app(base_config(tmp_path, url, SQLALCHEMY_ENGINE_OPTIONS=options))
        try:
            tenant_id = People(app).tenant_a
            with app.app_context():
                columns, fixed = as_columns(extra_rows(tenant_id, 1))
                bulk_insert.insert_columns(db.session, SalaryRow.__table__, columns, fixed)
                bulk_insert.insert_rows(db.session, SalaryRow.__table__, extra_rows(tenant_id, 2))
                for row in extra_rows(tenant_id, 3):
                    db.session.execute(sa.insert(SalaryRow.__table__), row)
                db.session.commit()
                texts = [json_texts(month) for month in (1, 2, 3)]
                read_back = db.session.scalars(sa.select(SalaryRow.extra).where(SalaryRow.month == 1)
                                               .order_by(SalaryRow.employee_key)).all()
        finally:
            dispose_app(app)
        assert texts[0] == texts[1] == texts[2], kind
        assert read_back == ODD_EXTRAS
        assert ('"\\u00fc"' in texts[0][2]) is (serializer is None), kind


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES)
def test_the_fast_json_text_is_json_dumps_text(value):
    assert bulk_insert._JSON_DUMPS is not None
    assert bulk_insert._JSON_DUMPS(value) == json.dumps(value)
