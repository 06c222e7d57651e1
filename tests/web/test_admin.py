"""Admin pages: tenant admins manage their users; admins read and export the audit log."""
import csv
import io
import re

import pytest
import sqlalchemy as sa
from conftest import PASSWORD
from conftest import base_config
from conftest import login
from conftest import make_app
from openpyxl import load_workbook

from paydash.extensions import db
from paydash.models import AuditLog
from paydash.models import User


@pytest.fixture
def admin_client(app, people):
    return login(app.test_client(), "admin@acme.test")


def _user(app, email):
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.email == email))


def _audit(app, action):
    with app.app_context():
        return db.session.scalars(sa.select(AuditLog).where(AuditLog.action == action)).all()


def _reset_link(response) -> str:
    return re.search(rb'class="temp-password"><code>([^<]+)</code>', response.data).group(1).decode()


NEW_PASSWORD = "a long new passphrase"


def _set_password_with(app, link: str) -> None:
    """Follow the admin's one-time link as the user and choose a password (nobody else sees it)."""
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = app.test_client().post("/" + path, data={"password": NEW_PASSWORD,
                                                        "confirm": NEW_PASSWORD})
    assert response.status_code == 302, response.data[-800:]


def test_tenant_admin_sees_only_their_tenants_users(admin_client):
    page = admin_client.get("/admin/users")
    assert page.status_code == 200
    assert b"hr@acme.test" in page.data
    assert b"hr@bharat.test" not in page.data
    assert b"ops@paydash.test" not in page.data


def test_hr_cannot_open_user_management(hr_client):
    assert hr_client.get("/admin/users").status_code == 403
    assert hr_client.get("/admin/audit").status_code == 403


def test_operator_cannot_manage_a_tenants_users(app, people):
    client = login(app.test_client(), "ops@paydash.test")
    assert client.get("/admin/users").status_code == 403


def test_admin_nav_entry_is_hidden_from_hr(hr_client):
    assert b'href="/admin/"' not in hr_client.get("/login", follow_redirects=True).data


@pytest.mark.parametrize("email, shown, hidden", [
    ("hr@acme.test", ["/payroll/", "/uploads"], ["/admin/"]),
    ("admin@acme.test", ["/payroll/", "/admin/"], []),
    ("ops@paydash.test", ["/admin/", "/jobs/"], ["/payroll/"]),
])
def test_the_menu_offers_exactly_the_pages_each_role_may_open(app, people, email, shown, hidden):
    client = login(app.test_client(), email)
    page = client.get("/").get_data(as_text=True)
    nav = page[page.index("<nav"):page.index("</nav>")]
    for path in shown:
        assert f'href="{path}"' in nav, path
        assert client.get(path).status_code in (200, 302), path  # /admin/ opens a sub-page
    for path in hidden:
        assert f'href="{path}"' not in nav, path
        assert client.get(path).status_code == 403, path


def test_admin_creates_a_user_who_chooses_a_password_with_the_one_time_link(app, admin_client):
    response = admin_client.post("/admin/users/new", data={
        "email": "New.Person@Acme.test", "name": "New Person", "role": "hr"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    _set_password_with(app, _reset_link(response))
    login(app.test_client(), "new.person@acme.test", NEW_PASSWORD)
    assert _user(app, "new.person@acme.test").tenant_id == _user(app, "admin@acme.test").tenant_id


def test_creating_a_user_is_audited_without_the_password(app, admin_client, people):
    response = admin_client.post("/admin/users/new", data={
        "email": "ravi@acme.test", "name": "Ravi", "role": "tenant_admin"})
    entry = _audit(app, "user_created")[0]
    assert (entry.user_id, entry.tenant_id, entry.target) == (people.admin_a, people.tenant_a,
                                                               "ravi@acme.test")
    assert entry.ip == "127.0.0.1"
    assert _reset_link(response).rsplit("/", 1)[1] not in str(entry.detail)


def test_admin_cannot_create_an_operator(app, admin_client):
    response = admin_client.post("/admin/users/new", data={
        "email": "evil@acme.test", "name": "Evil", "role": "operator"})
    assert response.status_code == 400
    assert b"Choose HR or tenant admin" in response.data
    assert _user(app, "evil@acme.test") is None


def test_creating_a_user_with_a_taken_email_says_so(admin_client):
    response = admin_client.post("/admin/users/new", data={
        "email": "hr@bharat.test", "name": "Copy", "role": "hr"})
    assert response.status_code == 400
    assert b"already exists" in response.data


def test_deactivated_user_is_signed_out_at_their_next_request(app, admin_client, people):
    victim = login(app.test_client(), "hr2@acme.test")
    response = admin_client.post(f"/admin/users/{people.hr_a2}/deactivate")
    assert response.status_code == 303
    assert victim.get("/").status_code == 302
    assert len(_audit(app, "user_deactivated")) == 1


def test_deactivated_user_cannot_sign_in(app, admin_client, people):
    admin_client.post(f"/admin/users/{people.hr_a2}/deactivate")
    response = app.test_client().post("/login", data={"email": "hr2@acme.test", "password": PASSWORD})
    assert response.status_code == 401


def test_reactivated_user_can_sign_in_again(app, admin_client, people):
    admin_client.post(f"/admin/users/{people.hr_a2}/deactivate")
    admin_client.post(f"/admin/users/{people.hr_a2}/reactivate")
    login(app.test_client(), "hr2@acme.test")
    assert len(_audit(app, "user_reactivated")) == 1


def test_admin_cannot_deactivate_themselves(app, admin_client, people):
    response = admin_client.post(f"/admin/users/{people.admin_a}/deactivate", follow_redirects=True)
    assert b"cannot deactivate your own account" in response.data
    assert _user(app, "admin@acme.test").active


def test_admin_cannot_touch_another_tenants_user(app, admin_client, people):
    assert admin_client.post(f"/admin/users/{people.hr_b}/deactivate").status_code == 404
    assert admin_client.post(f"/admin/users/{people.hr_b}/reset-password").status_code == 404
    assert admin_client.post(f"/admin/users/{people.operator}/deactivate").status_code == 404
    assert _user(app, "hr@bharat.test").active


def test_password_reset_ends_old_sessions_and_the_new_password_works(app, admin_client, people):
    victim = login(app.test_client(), "hr2@acme.test")
    response = admin_client.post(f"/admin/users/{people.hr_a2}/reset-password")
    assert victim.get("/").status_code == 302
    assert b"correct-horse" not in response.data
    _set_password_with(app, _reset_link(response))
    login(app.test_client(), "hr2@acme.test", NEW_PASSWORD)
    assert len(_audit(app, "user_password_reset")) == 1


def test_tenant_admin_audit_log_shows_only_their_tenant(app, people):
    login(app.test_client(), "hr@bharat.test")
    login(app.test_client(), "hr@acme.test")
    page = login(app.test_client(), "admin@acme.test").get("/admin/audit")
    assert page.status_code == 200
    assert b"hr@acme.test" in page.data
    assert b"hr@bharat.test" not in page.data


def test_operator_audit_log_shows_every_tenant(app, people):
    login(app.test_client(), "hr@bharat.test")
    login(app.test_client(), "hr@acme.test")
    page = login(app.test_client(), "viewer@paydash.test").get("/admin/audit")
    assert b"hr@acme.test" in page.data and b"hr@bharat.test" in page.data


def test_audit_log_filters_by_action_and_person(app, admin_client, people):
    admin_client.post(f"/admin/users/{people.hr_a2}/deactivate")
    page = admin_client.get("/admin/audit?action=user_deactivated&who=hr2")
    rows = page.data.count(b"<tr>") - 1
    assert rows == 1
    assert b"User deactivated" in page.data


def test_tenant_admin_cannot_widen_the_audit_log_with_a_tenant_parameter(app, people):
    login(app.test_client(), "hr@bharat.test")
    client = login(app.test_client(), "admin@acme.test")
    page = client.get(f"/admin/audit?tenant={people.tenant_b}")
    assert b"hr@bharat.test" not in page.data


def test_audit_csv_export_neutralises_formulas(app, people):
    hostile = "=HYPERLINK(\"http://evil\",\"x\")@acme.test"
    app.test_client().post("/login", data={"email": hostile, "password": "wrong-pass"})
    # A failed sign-in belongs to no tenant: the operator's export is the one that shows it.
    response = login(app.test_client(), "ops@paydash.test").get("/admin/audit/export.csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"  # Salary staff's audit trail.
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert any("hyperlink" in cell.lower() for cell in cells)  # the hostile entry is exported
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)


def test_audit_xlsx_export_has_no_formula_cells(app, people):
    hostile = "+cmd|' /C calc'!A0@x.test"
    app.test_client().post("/login", data={"email": hostile, "password": "wrong-pass"})
    response = login(app.test_client(), "ops@paydash.test").get("/admin/audit/export.xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert any(isinstance(v, str) and "cmd|" in v for v in values)
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)
    assert not any(isinstance(v, str) and v.startswith(("=", "+", "-", "@")) for v in values)


def test_audit_export_follows_the_filters(app, admin_client, people):
    admin_client.post(f"/admin/users/{people.hr_a2}/deactivate")
    response = admin_client.get("/admin/audit/export.csv?action=user_deactivated")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [row[3] for row in rows[1:]] == ["user_deactivated"]


def test_admin_pages_have_no_inline_style_or_script(app, admin_client, people):
    for path in ("/admin/users", "/admin/users/new", "/admin/audit"):
        body = admin_client.get(path).data
        assert not re.search(rb"<[^>]*\sstyle\s*=", body)
        assert not re.search(rb"<[^>]*\son[a-z]+\s*=", body)
        assert not re.search(rb"<script(?![^>]*\ssrc=)", body)


def test_user_changes_need_a_csrf_token(tmp_path, sqlite_url):
    app = make_app(base_config(tmp_path, sqlite_url, HUEY_IMMEDIATE=True, WTF_CSRF_ENABLED=True))
    from conftest import People
    people = People(app)
    client = login(app.test_client(), "admin@acme.test")
    assert client.post(f"/admin/users/{people.hr_a2}/deactivate").status_code == 400
    assert _user(app, "hr2@acme.test").active
