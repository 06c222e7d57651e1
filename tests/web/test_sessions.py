"""Server-side sessions (issue 16, item 2): a copied cookie dies with its session."""
import datetime as dt

import sqlalchemy as sa
from conftest import PASSWORD
from conftest import login

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.models import User
from paydash.models import UserSession

DATA = "/api/jobs"


def saved_cookie(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie: str):
    """A fresh client that only holds a copy of the cookie: what a thief would have."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get(DATA)


def test_a_cookie_replayed_after_logout_is_refused(app, people):
    client = login(app.test_client(), "hr@acme.test")
    cookie = saved_cookie(client)
    assert replay(app, cookie).status_code == 200
    client.post("/logout")
    assert replay(app, cookie).status_code == 401


def test_a_cookie_replayed_after_deactivation_is_refused(app, people):
    cookie = saved_cookie(login(app.test_client(), "hr2@acme.test"))
    admin = login(app.test_client(), "admin@acme.test")
    admin.post(f"/admin/users/{people.hr_a2}/deactivate")
    assert replay(app, cookie).status_code == 401
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession)
                                 .where(UserSession.user_id == people.hr_a2)) == 0


def test_a_cookie_replayed_after_a_password_reset_is_refused(app, people):
    cookie = saved_cookie(login(app.test_client(), "hr2@acme.test"))
    admin = login(app.test_client(), "admin@acme.test")
    admin.post(f"/admin/users/{people.hr_a2}/reset-password")
    assert replay(app, cookie).status_code == 401


def test_changing_ones_password_ends_the_other_sessions_but_keeps_this_one(app, people):
    other = saved_cookie(login(app.test_client(), "hr@acme.test"))
    client = login(app.test_client(), "hr@acme.test")
    response = client.post("/account/password", data={
        "current": PASSWORD, "password": "a brand new passphrase", "confirm": "a brand new passphrase"})
    assert response.status_code == 303
    assert client.get(DATA).status_code == 200
    assert replay(app, other).status_code == 401


def test_the_active_sessions_page_lists_them_and_ends_all_others(app, people):
    phone = login(app.test_client(), "hr@acme.test")
    laptop = login(app.test_client(), "hr@acme.test")
    page = laptop.get("/account")
    assert page.status_code == 200
    assert page.data.count(b"<tr><td") == 2 and b"This browser" in page.data
    laptop.post("/account/sessions/end-others")
    assert phone.get(DATA).status_code == 401
    assert laptop.get(DATA).status_code == 200


def _age_sessions(app, user_id: int, **columns) -> None:
    with app.app_context():
        db.session.execute(sa.update(UserSession).where(UserSession.user_id == user_id)
                           .values(**columns))
        db.session.commit()


def test_a_session_idle_for_more_than_eight_hours_ends(app, people):
    client = login(app.test_client(), "hr@acme.test")
    _age_sessions(app, people.hr_a, last_seen_at=utcnow() - dt.timedelta(hours=7, minutes=50))
    assert client.get(DATA).status_code == 200  # used within 8 hours: still signed in
    _age_sessions(app, people.hr_a, last_seen_at=utcnow() - dt.timedelta(hours=8, minutes=1))
    assert client.get(DATA).status_code == 401


def test_no_session_lives_longer_than_seven_days_even_when_used(app, people):
    client = login(app.test_client(), "hr@acme.test")
    _age_sessions(app, people.hr_a, created_at=utcnow() - dt.timedelta(days=7, minutes=1),
                  last_seen_at=utcnow())
    assert client.get(DATA).status_code == 401


def test_a_cookie_from_before_server_side_sessions_signs_nobody_in(app, people):
    """Cookies of the old kind (user id and hash tail, no session) are not honoured."""
    client = app.test_client()
    with client.session_transaction() as session:
        with app.app_context():
            user = db.session.get(User, people.hr_a)
            session["user_id"], session["pw"] = user.id, user.password_hash[-12:]
    assert client.get(DATA).status_code == 401


def test_the_cookie_is_a_session_token_not_the_user(app, people):
    client = login(app.test_client(), "hr@acme.test")
    with client.session_transaction() as session:
        assert set(session) == {"sid", "_permanent"}


def test_retention_deletes_expired_sessions_and_keeps_live_ones(app, people):
    from paydash.services import retention  # noqa: PLC0415
    login(app.test_client(), "hr@acme.test")
    login(app.test_client(), "hr2@acme.test")
    _age_sessions(app, people.hr_a, last_seen_at=utcnow() - dt.timedelta(hours=9))
    with app.app_context():
        assert retention.prune()["sessions"] == 1
        left = db.session.scalars(sa.select(UserSession.user_id)).all()
    assert left == [people.hr_a2]
