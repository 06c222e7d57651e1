"""New people start with the terms their first row states (issue 18).

A first import used to insert each new person with TDS % and advance balance 0, and then
`carry_terms` updated them all. The sync now inserts them with its guess of those terms
(`imported.stated_terms_sql`), and `carry_terms` settles every row against it. These tests
run both ways on two tenants with the same master and month, on SQLite and PostgreSQL:
the masters, the sync's changes and the carried counts must be equal, whatever the guess
got wrong (half-hundredth ties, the 100 % cap, balances not in money text, rows without a
code, a code on two rows, rows not imported).
"""
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from test_carry_terms_sets import BALANCES
from test_carry_terms_sets import MASTERS
from test_carry_terms_sets import MONEY
from test_carry_terms_sets import master
from test_employee_sync_sets import filled_tenant

from paydash.extensions import db
from paydash.models import Employee
from paydash.payroll import employees
from paydash.payroll import imported


def person(code):
    return {"code": code, "name": code, "tds_pct": Decimal("1.00"),
            "advance_balance": Decimal("100.00")}


def both_ways(people, month_rows):
    """[(master, changes, carried)] without the sync's guess, then with it."""
    people = [dict(person(code), tds_pct=Decimal(tds_pct), advance_balance=Decimal(balance))
              for code, tds_pct, balance in people]
    rows = [{"employee_key": f"{code or 'name'}#{number}", "employee_code": code,
             "employee_name": f"Person {code}", "source": source,
             "gross": None if gross is None else Decimal(gross), "tds": Decimal(tds),
             "extra": None if balance is None else {"advance_balance": balance, "pf": "1.00"}}
            for number, (code, gross, tds, balance, source) in enumerate(month_rows, start=2)]
    results = []
    for with_terms in (False, True):
        tenant_id = filled_tenant(people, rows)
        changes = employees.sync_from_salary_rows(tenant_id, 2025, 3, with_terms=with_terms)
        carried = imported.carry_terms(tenant_id, 2025, 3)
        db.session.commit()
        results.append((master(tenant_id)[0], changes, carried))
    return results


# New codes as well as the master's; None is a row without a code (its key is the name).
CODES = st.sampled_from(["E1", "E2", "N1", "N2", "N3", " N1", None])
ROWS = st.lists(st.tuples(CODES, st.one_of(st.none(), MONEY), MONEY, BALANCES,
                          st.sampled_from(["excel", "excel", "excel", "browser"])), max_size=10)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(people=MASTERS, month=ROWS)
def test_the_guess_leaves_the_master_as_inserting_then_carrying_did(app_on_each_database,
                                                                     people, month):
    with app_on_each_database.app_context():
        without, with_guess = both_ways(people, month)
        assert with_guess == without


def test_a_first_import_inserts_the_stated_terms_and_carries_without_updating(
        app_on_each_database, monkeypatch):
    written = []
    monkeypatch.setattr(imported, "_write_terms", lambda pending, now: written.append(pending))
    month = [(f"N{n}", "30000", "500", "1000.00", "excel") for n in range(1, 6)]
    with app_on_each_database.app_context():
        rows = [{"employee_key": code, "employee_code": code, "employee_name": code,
                 "gross": Decimal(gross), "tds": Decimal(tds),
                 "extra": {"advance_balance": balance}} for code, gross, tds, balance, _ in month]
        tenant_id = filled_tenant([], rows)
        employees.sync_from_salary_rows(tenant_id, 2025, 3, with_terms=True)
        terms = db.session.execute(sa.select(Employee.tds_pct, Employee.advance_balance)
                                   .where(Employee.tenant_id == tenant_id)).all()
        assert terms == [(Decimal("1.67"), Decimal("1000.00"))] * 5
        assert imported.carry_terms(tenant_id, 2025, 3) == 5
    assert all(not pending for pending in written)   # nothing left to update
