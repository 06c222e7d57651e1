"""carry_terms' set-based write leaves the master exactly as the ORM bulk UPDATE did (issue 18).

The earlier carry_terms (1f3a984, from git) and today's run on two tenants with the same
master and month; the masters (every column but the id and `updated_at`), the counts and
which employees had `updated_at` touched must be equal. On SQLite and PostgreSQL.
"""
import datetime as dt
from decimal import Decimal

import carry_terms_before
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from test_employee_sync_sets import filled_tenant

from paydash.extensions import db
from paydash.models import Employee
from paydash.payroll import imported

COMPARED = ("code", "name", "department", "monthly_salary", "ot_multiplier", "tds_pct",
            "advance_balance", "active")
LONG_AGO = dt.datetime(2001, 2, 3, 4, 5, 6)


def master(tenant_id) -> tuple[dict, set]:
    rows = db.session.execute(sa.select(*(getattr(Employee, c) for c in COMPARED),
                                        Employee.updated_at)
                              .where(Employee.tenant_id == tenant_id)).all()
    return ({row.code: tuple(row)[:-1] for row in rows},
            {row.code for row in rows if row.updated_at != LONG_AGO})


def both_ways(people, month_rows):
    """[(master, touched, count)] after the earlier carry_terms, then after today's."""
    people = [{"code": code, "name": code, "tds_pct": Decimal(tds_pct),
               "advance_balance": Decimal(balance), "updated_at": LONG_AGO}
              for code, tds_pct, balance in people]
    month_rows = [{"employee_key": f"{code}#{number}", "employee_code": code, "employee_name": code,
                   "gross": None if gross is None else Decimal(gross), "tds": Decimal(tds),
                   "extra": None if balance is None else {"advance_balance": balance, "pf": "1.00"}}
                  for number, (code, gross, tds, balance) in enumerate(month_rows, start=2)]
    results = []
    for carry in (carry_terms_before.carry_terms, imported.carry_terms):
        tenant_id = filled_tenant(people, month_rows)
        count = carry(tenant_id, 2025, 3)
        db.session.commit()
        results.append((*master(tenant_id), count))
    return results


CODES = st.sampled_from(["E1", "E2", "E3", "E4", " E1", "N1"])
MONEY = st.sampled_from(["0", "0.00", "100", "333.33", "15000", "15000.50", "20000", "99999.99"])
BALANCES = st.one_of(st.none(), st.sampled_from(["0", "0.00", "100.00", "500", "-5.00", "7.5",
                                                 "1000.00"]))
PERCENT = st.sampled_from(["0", "0.00", "1.00", "1.11", "2.22", "100", "5.55"])


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(people=st.lists(st.tuples(st.sampled_from(["E1", "E2", "E3", "E4"]), PERCENT,
                                 st.sampled_from(["0", "100.00", "500", "7.50"])),
                       max_size=4, unique_by=lambda t: t[0]),
       month=st.lists(st.tuples(CODES, st.one_of(st.none(), MONEY), MONEY, BALANCES),
                      max_size=10))
def test_random_masters_and_months_carry_the_same_terms(app_on_each_database, people, month):
    with app_on_each_database.app_context():
        (old_master, old_touched, old_count), (new_master, new_touched, new_count) = \
            both_ways(people, month)
        assert new_master == old_master
        assert new_count == old_count
        assert new_touched == old_touched


def test_one_person_on_several_rows_ends_as_the_rows_in_turn_leave_them(app_on_each_database):
    people = [("E1", "1.00", "500"), ("E2", "0", "0"), ("E3", "5.55", "100.00")]
    month = [("E1", "10000", "200", "300.00"),   # both terms change
             ("E1", None, "0", "500"),           # only the balance: back to 500
             ("E2", "20000", "0", None),          # TDS % 0 as it was: nothing
             ("E2", "20000", "400", None),        # then 2.00
             ("E3", "30000", "0", "-5.00"),       # TDS % 0, no balance (negative)
             ("E3", "10000", "555", "100.00")]    # back to what the master had
    with app_on_each_database.app_context():
        (old_master, old_touched, old_count), (new_master, new_touched, new_count) = \
            both_ways(people, month)
        assert new_master == old_master and new_count == old_count == 6
        assert new_touched == old_touched == {"E1", "E2", "E3"}
        assert new_master["E1"][5:7] == (Decimal("2.00"), Decimal("500.00"))
        assert new_master["E2"][5:7] == (Decimal("2.00"), Decimal("0.00"))
        assert new_master["E3"][5:7] == (Decimal("5.55"), Decimal("100.00"))
