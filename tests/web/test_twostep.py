"""Two-step sign-in (issue 16, item 6): TOTP enrolment with a QR code, recovery codes,
required for tenant admins and operators, and for HR when their tenant admin says so."""
import re
import time

import pyotp
import pytest
import sqlalchemy as sa
from conftest import PASSWORD
from conftest import People
from conftest import base_config
from conftest import dispose_app
from conftest import make_app

from paydash.extensions import db
from paydash.models import AuditLog


@pytest.fixture
def app(tmp_path, sqlite_url):
    """The app with two-step sign-in enforced, as in production."""
    app = make_app(base_config(tmp_path, sqlite_url, HUEY_IMMEDIATE=True, TWO_STEP_ENFORCED=True))
    yield app
    dispose_app(app)


@pytest.fixture
def people(app):
    return People(app)


def password_step(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.data[-500:]
    return client, response


def enrol(client) -> tuple[str, list[str]]:
    page = client.get("/account/two-step")
    assert page.status_code == 200
    secret = re.search(rb"<code>([A-Z2-7]{16,})</code>", page.data).group(1).decode()
    done = client.post("/account/two-step", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200, done.data[-500:]
    return secret, re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.get_data(as_text=True))


def next_code(secret: str) -> str:
    """The code of the next 30 s step (accepted for clock drift): enrolment used this one."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditLog.action).order_by(AuditLog.id)))


def test_a_tenant_admin_must_enrol_before_anything_else(app, people):
    client, _ = password_step(app, "admin@acme.test")
    page = client.get("/admin/users")
    assert page.status_code == 302 and page.headers["Location"].endswith("/account/two-step")
    assert client.get("/api/jobs").status_code == 403
    enrol(client)
    assert client.get("/admin/users").status_code == 200


def test_the_enrolment_qr_code_is_inline_svg_with_nothing_loaded_from_elsewhere(app, people):
    client, _ = password_step(app, "ops@paydash.test")
    page = client.get("/account/two-step").get_data(as_text=True)
    assert "<svg" in page and "<path" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_after_enrolment_sign_in_asks_for_the_code(app, people):
    client, _ = password_step(app, "admin@acme.test")
    secret, codes = enrol(client)
    assert len(codes) == 10
    again, response = password_step(app, "admin@acme.test")
    assert "/login/code" in response.headers["Location"]
    assert again.get("/api/jobs").status_code == 401  # the password alone signs nobody in
    assert again.post("/login/code", data={"code": "000000"}).status_code == 401
    assert again.post("/login/code", data={"code": next_code(secret)}).status_code == 302
    assert again.get("/api/jobs").status_code == 200
    assert {"two_step_enabled", "login_password_ok", "login_code_failed", "login"} <= set(actions(app))


def test_a_recovery_code_signs_in_once(app, people):
    client, _ = password_step(app, "ops@paydash.test")
    _secret, codes = enrol(client)
    first, _ = password_step(app, "ops@paydash.test")
    assert first.post("/login/code", data={"code": codes[0]}).status_code == 302
    second, _ = password_step(app, "ops@paydash.test")
    assert second.post("/login/code", data={"code": codes[0]}).status_code == 401
    assert "recovery_code_used" in actions(app)


def test_two_step_is_optional_for_hr_until_the_tenant_admin_requires_it(app, people):
    hr, _ = password_step(app, "hr@acme.test")
    assert hr.get("/uploads").status_code == 200
    admin, _ = password_step(app, "admin@acme.test")
    enrol(admin)
    assert admin.post("/account/tenant-two-step", data={"require": "1"}).status_code == 303
    assert "tenant_two_step_required" in actions(app)
    held = hr.get("/uploads")
    assert held.status_code == 302 and held.headers["Location"].endswith("/account/two-step")
    other_tenant, _ = password_step(app, "hr@bharat.test")
    assert other_tenant.get("/uploads").status_code == 200


def test_hr_may_not_require_two_step_for_the_tenant(app, people):
    hr, _ = password_step(app, "hr@acme.test")
    assert hr.post("/account/tenant-two-step", data={"require": "1"}).status_code == 403


def test_wrong_codes_are_limited_like_passwords(app, people):
    client, _ = password_step(app, "admin@acme.test")
    enrol(client)
    again, _ = password_step(app, "admin@acme.test")
    statuses = [again.post("/login/code", data={"code": "123456"}).status_code for _ in range(12)]
    assert 429 in statuses


def test_a_code_typed_in_full_width_digits_signs_in(app, people):
    client, _ = password_step(app, "ops@paydash.test")
    secret, _codes = enrol(client)
    wide = next_code(secret).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    signed_in, _ = password_step(app, "ops@paydash.test")
    assert signed_in.post("/login/code", data={"code": wide}).status_code == 302


@pytest.mark.parametrize("code", ["12345²", "²²²²²²", "١٢٣٤٥x"])
def test_a_code_with_digits_no_number_has_is_refused_not_an_error(app, people, code):
    client, _ = password_step(app, "ops@paydash.test")
    enrol(client)
    again, _ = password_step(app, "ops@paydash.test")
    assert again.post("/login/code", data={"code": code}).status_code == 401


def test_a_code_works_only_once(app, people):
    client, _ = password_step(app, "ops@paydash.test")
    secret, _codes = enrol(client)
    code = next_code(secret)
    first, _ = password_step(app, "ops@paydash.test")
    assert first.post("/login/code", data={"code": code}).status_code == 302
    replayed, _ = password_step(app, "ops@paydash.test")
    assert replayed.post("/login/code", data={"code": code}).status_code == 401
    assert replayed.get("/api/jobs").status_code == 401
