"""The tenant's payroll settings page: admins change the rules, HR reads them, all audited."""
from decimal import Decimal

import pytest
import sqlalchemy as sa
from conftest import PASSWORD
from conftest import login

from paydash import accounts
from paydash.extensions import db
from paydash.models import AuditLog
from paydash.models import Role
from paydash.models import Tenant

SETTINGS = "/payroll/settings"
VALID = {"days_basis": "calendar", "shift_hours": "9", "break_hours": "1", "variance_pct": "20",
         "pt_state": ""}


@pytest.fixture
def acme(app):
    """One tenant with an admin and an HR user (fewer users than `people`: hashing is slow)."""
    with app.app_context():
        tenant = accounts.create_tenant("Acme Traders", "acme")
        accounts.create_user("admin@acme.test", PASSWORD, name="Anil Admin",
                             role=Role.TENANT_ADMIN.value, tenant=tenant)
        accounts.create_user("hr@acme.test", PASSWORD, name="Asha HR", tenant=tenant)
        db.session.commit()
        return tenant.id


@pytest.fixture
def admin(app, acme):
    return login(app.test_client(), "admin@acme.test")


@pytest.fixture
def hr(app, acme):
    return login(app.test_client(), "hr@acme.test")


def tenant_settings(app, tenant_id) -> Tenant:
    with app.app_context():
        tenant = db.session.get(Tenant, tenant_id)
        db.session.expunge(tenant)
        return tenant


def audit_entries(app):
    with app.app_context():
        return [e.detail for e in db.session.scalars(
            sa.select(AuditLog).where(AuditLog.action == "payroll.settings"))]


def test_an_admin_changes_the_rules_and_the_sheet_shows_the_basis_in_force(app, acme, admin):
    response = admin.post(SETTINGS, data={**VALID, "days_basis": "26", "shift_hours": "8.5",
                                          "break_hours": "0.5", "pf_enabled": "yes",
                                          "pt_state": "karnataka"})
    assert response.status_code == 302
    tenant = tenant_settings(app, acme)
    assert (tenant.days_basis, tenant.shift_hours, tenant.break_hours, tenant.pf_enabled,
            tenant.esi_enabled, tenant.pt_state) == (
        "26", Decimal("8.50"), Decimal("0.50"), True, False, "karnataka")
    sheet = admin.get("/payroll/2024/3").get_data(as_text=True)
    assert "Days basis: 26 days (working days)" in sheet
    assert 'href="/payroll/settings"' in sheet


def test_a_break_as_long_as_the_shift_is_refused_and_nothing_changes(app, acme, admin):
    response = admin.post(SETTINGS, data={**VALID, "shift_hours": "8", "break_hours": "8"})
    assert response.status_code == 422
    assert "The break must be shorter than the shift" in response.get_data(as_text=True)
    assert tenant_settings(app, acme).shift_hours == Decimal("9")
    assert audit_entries(app) == []


def test_text_where_a_number_belongs_is_named_in_the_message(acme, admin):
    response = admin.post(SETTINGS, data={**VALID, "variance_pct": "twenty"})
    assert response.status_code == 422
    assert "Variance %: &#39;twenty&#39; is not a number" in response.get_data(as_text=True)


def test_a_state_without_a_professional_tax_table_is_refused(app, acme, admin):
    response = admin.post(SETTINGS, data={**VALID, "pt_state": "kerala"})
    assert response.status_code == 422
    assert "Choose a state from the list" in response.get_data(as_text=True)
    assert tenant_settings(app, acme).pt_state is None


def test_each_change_is_audited_with_its_old_and_new_value(app, acme, admin):
    admin.post(SETTINGS, data={**VALID, "shift_hours": "10", "esi_enabled": "yes"})
    assert audit_entries(app) == [{"Changes": "Shift hours 9.00 → 10.00, ESI off → on"}]


def test_saving_unchanged_settings_writes_nothing_to_the_audit_log(app, acme, admin):
    response = admin.post(SETTINGS, data=VALID, follow_redirects=True)
    assert "Nothing changed." in response.get_data(as_text=True)
    assert audit_entries(app) == []


def test_hr_sees_the_settings_but_cannot_edit_them(hr):
    page = hr.get(SETTINGS).get_data(as_text=True)
    assert "Only your organisation's admin can change these settings." in page
    assert "<fieldset class=\"settings-fields form-grid\" disabled>" in page
    assert "Save settings" not in page


def test_hr_cannot_change_the_settings_by_posting(app, acme, hr):
    assert hr.post(SETTINGS, data={**VALID, "days_basis": "26"}).status_code == 403
    assert tenant_settings(app, acme).days_basis == "calendar"
