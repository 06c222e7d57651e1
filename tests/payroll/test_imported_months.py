"""A month imported from a sheet, seen and continued from the browser month sheet (issue 14)."""
from decimal import Decimal

import sheet_builders as sb
import sqlalchemy as sa

from paydash.extensions import db
from paydash.models import Employee
from paydash.models import Tenant
from paydash.payroll import imported
from paydash.payroll import monthly
from paydash.services import imports

# The tenant's template: TDS, the advance recovered (OLD ADV) and the balance left (Balnce Adv).
HEADERS = ["Employee ID", "NAME", "SALARY", "SAL+OT", "OLD ADV", "TDS", "NETT PAYABLE",
           "Department", "Balnce Adv"]
ROWS = [["E1", "Ravi Kumar", 68000, 68000, 5000, 6774, 56226, "Sales", 15000],
        ["E2", "Meena Iyer", 30000, 30123.456789, 0, 0, 30123.456789, "Stores", 0]]


def import_april(app, people, rows=ROWS, month=4):
    with app.app_context():
        upload = imports.receive_upload(people.tenant_a, people.hr_a, "april.xlsx",
                                        sb.simple_sheet(rows, headers=HEADERS), 2024, month)
        imports.confirm_upload(upload.id, people.tenant_a, people.hr_a)
        return upload.id


def employee(app, code) -> Employee:
    with app.app_context():
        found = db.session.scalar(sa.select(Employee).where(Employee.code == code))
        db.session.expunge(found)
        return found


def test_employees_created_from_an_upload_keep_tds_and_advance_balance(app, people):
    import_april(app, people)
    ravi = employee(app, "E1")
    assert (ravi.tds_pct, ravi.advance_balance) == (Decimal("9.96"), Decimal("15000.00"))
    assert employee(app, "E2").tds_pct == 0


def test_the_imported_months_sheet_shows_the_imported_nets_with_no_flags(app, people):
    import_april(app, people)
    with app.app_context():
        view = monthly.month_view(db.session.get(Tenant, people.tenant_a), 2024, 4)
    shown = {r["code"]: r["net"] for r in view["imported"]["rows"]}
    assert shown == {"E1": "56226.00", "E2": "30123.46"}
    assert view["imported"]["flags"] == []
    assert view["imported"]["totals"]["net"] == "86349.46"


def test_the_next_month_starts_with_the_sheets_advance_recovery(app, people):
    import_april(app, people)
    with app.app_context():
        tenant = db.session.get(Tenant, people.tenant_a)
        view = monthly.month_view(tenant, 2024, 5)
        ravi = next(e for e in view["employees"] if e["code"] == "E1")
        assert view["imported"] is None
        assert view["draft"] == {str(ravi["id"]): {"advance": "5000.00"}}
        assert ravi["previous_net"] == "56226.00"


def test_reimporting_an_older_month_does_not_roll_the_terms_back(app, people):
    import_april(app, people)
    older = [["E1", "Ravi Kumar", 68000, 68000, 0, 0, 68000, "Sales", 25000], ROWS[1]]
    import_april(app, people, older, month=3)
    assert employee(app, "E1").advance_balance == Decimal("15000.00")


def test_statutory_deductions_that_disagree_with_the_settings_are_pointed_out(app, people):
    headers = ["Emp Code", "Name", "Gross", "PF", "Net Pay"]
    with app.app_context():
        upload = imports.receive_upload(people.tenant_a, people.hr_a, "pf.xlsx",
                                        sb.simple_sheet([["E9", "Asha", 20000, 1800, 18200]],
                                                        headers=headers), 2024, 6)
        imports.confirm_upload(upload.id, people.tenant_a, people.hr_a)
        tenant = db.session.get(Tenant, people.tenant_a)
        tenant.pf_enabled = False
        notes = monthly.month_view(tenant, 2024, 6)["imported"]["notes"]
    assert any("deducts PF, but PF is off" in n for n in notes)


def test_terms_come_only_from_what_the_row_states():
    assert imported.terms_from_row(Decimal("0"), Decimal("0"), None) == {}
    assert imported.terms_from_row(Decimal("1000"), Decimal("100"), {"advance_balance": "50.00"}) \
        == {"tds_pct": Decimal("10.00"), "advance_balance": Decimal("50.00")}


def test_people_new_in_an_older_month_start_without_its_terms(app, people):
    """Only the latest month's terms are carried: a person first seen in an older month
    starts with none, as before the sync put a new person's terms in at once (issue 18)."""
    import_april(app, people)
    older = [*ROWS, ["E3", "Asha Rao", 40000, 40000, 0, 4000, 36000, "Sales", 2500]]
    import_april(app, people, older, month=3)
    asha = employee(app, "E3")
    assert (asha.tds_pct, asha.advance_balance) == (0, 0)
    import_april(app, people, older, month=5)
    asha = employee(app, "E3")
    assert (asha.tds_pct, asha.advance_balance) == (Decimal("10.00"), Decimal("2500.00"))
