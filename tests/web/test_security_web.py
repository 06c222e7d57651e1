"""Web safety: CSRF, cookies, headers, sign-in rate limit, error pages, signed queue messages."""
import io
import logging
import pickle
import re

import pytest
from conftest import PASSWORD
from conftest import base_config
from conftest import login
from conftest import make_app


@pytest.fixture
def csrf_app(tmp_path, sqlite_url):
    app = make_app(base_config(tmp_path, sqlite_url, HUEY_IMMEDIATE=True, WTF_CSRF_ENABLED=True))
    return app


def test_login_post_without_csrf_token_is_refused(csrf_app):
    from conftest import People
    People(csrf_app)
    response = csrf_app.test_client().post("/login", data={"email": "hr@acme.test", "password": PASSWORD})
    assert response.status_code == 400
    assert b"Reload the page" in response.data


def test_logout_needs_a_post_with_csrf_token(csrf_app):
    from conftest import People
    People(csrf_app)
    client = login(csrf_app.test_client(), "hr@acme.test")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400


def test_session_cookie_is_httponly_and_samesite_lax(client, people):
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" value="([^"]*)"', page.data)
    response = client.post("/login", data={"email": "hr@acme.test", "password": PASSWORD,
                                            "csrf_token": token.group(1).decode() if token else ""})
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP in tests


def test_session_cookie_is_secure_behind_a_trusted_tls_proxy(tmp_path, sqlite_url):
    app = make_app(base_config(tmp_path, sqlite_url, HUEY_IMMEDIATE=True, TRUST_PROXY_HEADERS=True))
    from conftest import People
    People(app)
    client = app.test_client()
    response = client.post("/login", data={"email": "hr@acme.test", "password": PASSWORD},
                           headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in response.headers.get("Set-Cookie", "")
    assert "max-age" in response.headers.get("Strict-Transport-Security", "")


def test_untrusted_forwarded_proto_header_is_ignored(client, people):
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


def test_every_response_has_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_wrong_user_and_wrong_password_get_the_same_answer(client, people):
    unknown = client.post("/login", data={"email": "nobody@acme.test", "password": "whatever1"})
    wrong = client.post("/login", data={"email": "hr@acme.test", "password": "whatever1"})
    assert unknown.status_code == wrong.status_code == 401
    def normalise(body: bytes, email: bytes) -> bytes:
        return re.sub(rb'(csrf-token" content|csrf_token" value)="[^"]*"', b"", body.replace(email, b"X"))

    assert normalise(unknown.data, b"nobody@acme.test") == normalise(wrong.data, b"hr@acme.test")


def test_passwords_are_hashed_with_scrypt(app, people):
    from paydash.extensions import db
    from paydash.models import User
    with app.app_context():
        assert db.session.get(User, people.hr_a).password_hash.startswith("scrypt:")


# Sign-in limits are tested in tests/web/test_signin_limits.py (issue 16).


@pytest.fixture
def broken_app(tmp_path, sqlite_url):
    app = make_app(base_config(tmp_path, sqlite_url, HUEY_IMMEDIATE=True))

    @app.get("/api/boom")
    def api_boom():
        raise RuntimeError("secret internals")

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    return app


def test_a_crash_shows_a_readable_page_without_traceback(broken_app):
    response = broken_app.test_client().get("/boom")
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.data
    assert b"Traceback" not in response.data and b"secret internals" not in response.data


def test_a_crash_in_the_api_answers_json_without_traceback(broken_app):
    response = broken_app.test_client().get("/api/boom")
    assert response.status_code == 500
    assert response.json["status"] == 500
    assert "secret internals" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path,code", [("/no-such-page", 404), ("/api/no-such", 404)])
def test_not_found_is_readable(client, path, code):
    response = client.get(path)
    assert response.status_code == code
    assert b"Traceback" not in response.data


def test_api_needs_sign_in_and_answers_401_json(client):
    response = client.get("/api/jobs/some-id")
    assert response.status_code == 401
    assert response.json["error"] == "Please sign in"


def test_forged_queue_message_is_refused_and_logged(queued_app, caplog):
    from huey.registry import Message

    from paydash.ledger.queue import ForgedMessage
    huey = queued_app.extensions["huey"]
    forged = pickle.dumps(Message("x", "tasks.chart_sync.sync_chart_data_batch", None, 0, 0, 0, None,
                                  (1, 2026, 1, "excel"), {}, None, None, None, None))
    with caplog.at_level(logging.ERROR, logger="paydash.ledger.queue"):
        with pytest.raises(ForgedMessage):
            huey.deserialize_task(forged + b":" + b"0" * 40)
    assert "bad signature" in caplog.text


def test_genuine_queue_message_round_trips(queued_app):
    from paydash.ledger.queue import task_wrapper
    huey = queued_app.extensions["huey"]
    task = task_wrapper(huey, "sync_chart_data_batch")((1, 2026, 1, "excel"), {})
    assert huey.deserialize_task(huey.serialize_task(task)).args == (1, 2026, 1, "excel")


def test_queue_messages_keep_huey_signed_serializer_wire_format():
    # The one-shot HMAC must not change the format: messages queued by a worker of the
    # previous release (Huey's own SignedSerializer) still run, and the other way round.
    from huey.serializer import SignedSerializer

    from paydash.ledger.queue import ForgedMessage
    from paydash.ledger.queue import LoggingSignedSerializer
    ours = LoggingSignedSerializer(secret="s3cret", salt="paydash-queue")
    hueys = SignedSerializer(secret="s3cret", salt="paydash-queue")
    message = {"args": (1, 2026, 1), "note": b"a:b:c"}
    assert ours.serialize(message) == hueys.serialize(message)
    assert hueys.deserialize(ours.serialize(message)) == message
    assert ours.deserialize(hueys.serialize(message)) == message
    genuine = ours.serialize(message)
    tampered = genuine[:-1] + (b"1" if genuine.endswith(b"0") else b"0")
    other_key = SignedSerializer(secret="other", salt="paydash-queue").serialize(message)
    for forged in (other_key, pickle.dumps(message), tampered):
        with pytest.raises(ForgedMessage):
            ours.deserialize(forged)


def test_an_upload_over_the_size_limit_gets_a_readable_413_and_stores_nothing(tmp_path, sqlite_url):
    app = make_app(base_config(tmp_path, sqlite_url, HUEY_IMMEDIATE=True, MAX_UPLOAD_MB=1,
                               MAX_CONTENT_LENGTH=1024 * 1024))
    from conftest import People

    from paydash.extensions import db
    from paydash.models import Upload
    People(app)
    client = login(app.test_client(), "hr@acme.test")
    big = io.BytesIO(b"PK\x03\x04" + b"\0" * (2 * 1024 * 1024))
    response = client.post("/uploads", data={"year": "2026", "month": "10",
                                             "file": (big, "october.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    assert b"File too large" in response.data and b"The limit is 1 MB" in response.data
    assert b"Traceback" not in response.data
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Upload.id))) == 0
    assert client.get("/uploads").status_code == 200
