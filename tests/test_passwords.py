"""Password rules, rehashing and the one-time reset link (issue 16, item 8)."""
import datetime as dt
import re

import pytest
import sqlalchemy as sa
from conftest import PASSWORD
from conftest import login
from werkzeug.security import generate_password_hash

from paydash import accounts
from paydash import passwords
from paydash.extensions import db
from paydash.models import User


@pytest.mark.parametrize("password", [
    "password123", "Password2026!", "qwertyuiop", "P@ssw0rd12345", "1234567890", "iloveyou!!!!",
    "aaaaaaaaaaaa", "abcabcabcabc", "PAYDASH2026", "letmein2024", "Welcome@123"])
def test_common_passwords_are_refused(password):
    with pytest.raises(passwords.PasswordRejected, match="most common"):
        passwords.check(password)


@pytest.mark.parametrize("password", ["short", "nine char", "ab1!ab1!a"])
def test_passwords_under_ten_characters_are_refused(password):
    with pytest.raises(passwords.PasswordRejected, match="at least 10 characters"):
        passwords.check(password)


@pytest.mark.parametrize("password", [
    "tiger lily morning", "all lowercase words here", "correct-horse-9", "मेरा पासवर्ड लंबा है",
    "0987 monsoon chai"])
def test_long_passwords_need_no_digits_capitals_or_symbols(password):
    passwords.check(password)


def test_the_email_is_not_a_password():
    with pytest.raises(passwords.PasswordRejected):
        passwords.check("hema.rao2026", email="hema.rao@demo.test")


def test_a_hash_made_with_older_parameters_is_replaced_at_sign_in(app, people):
    with app.app_context():
        user = db.session.get(User, people.hr_a)
        user.password_hash = generate_password_hash(PASSWORD, method="scrypt:16384:8:1")
        db.session.commit()
    wrong = app.test_client().post("/login", data={"email": "hr@acme.test", "password": "not it at all"})
    assert wrong.status_code == 401
    with app.app_context():
        assert db.session.get(User, people.hr_a).password_hash.startswith("scrypt:16384:8:1$")
    login(app.test_client(), "hr@acme.test")
    with app.app_context():
        stored = db.session.get(User, people.hr_a).password_hash
    assert stored.startswith(passwords.HASH_METHOD + "$")
    login(app.test_client(), "hr@acme.test")  # and the new hash still signs in


def reset_path(response) -> str:
    link = re.search(rb'class="temp-password"><code>([^<]+)</code>', response.data).group(1).decode()
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
def reset_started(app, people):
    admin = login(app.test_client(), "admin@acme.test")
    response = admin.post(f"/admin/users/{people.hr_a2}/reset-password")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    return reset_path(response)


def test_the_admin_never_sees_a_password_and_the_old_one_stops_working(app, reset_started):
    assert app.test_client().post("/login", data={"email": "hr2@acme.test",
                                                  "password": PASSWORD}).status_code == 401


def test_the_reset_link_refuses_a_common_password_in_plain_words(app, reset_started):
    response = app.test_client().post(reset_started, data={"password": "password123",
                                                           "confirm": "password123"})
    assert response.status_code == 400 and b"most common" in response.data


def test_the_reset_link_works_once(app, reset_started):
    chosen = {"password": "monsoon over the ghats", "confirm": "monsoon over the ghats"}
    assert app.test_client().post(reset_started, data=chosen).status_code == 302
    login(app.test_client(), "hr2@acme.test", chosen["password"])
    again = app.test_client().post(reset_started, data={"password": "another long one here",
                                                        "confirm": "another long one here"})
    assert again.status_code == 404 and b"Ask your admin for a new one" in again.data


def test_an_expired_reset_link_is_refused(app, people, reset_started):
    with app.app_context():
        db.session.execute(sa.update(User).where(User.id == people.hr_a2).values(
            reset_token_expires=accounts.utcnow() - dt.timedelta(minutes=1)))
        db.session.commit()
    assert app.test_client().get(reset_started).status_code == 404
    assert app.test_client().get("/reset/not-a-real-token").status_code == 404
