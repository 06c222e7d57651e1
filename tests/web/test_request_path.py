"""What every signed-in request pays: one session lookup, and the dashboard's one-statement cache hit.

Every signed-in request reads its server-side session joined to its user (issue 16), so a
change made by any process (deactivation, password reset, role change) applies at the
next request.
"""
import pytest
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import dispose_app
from conftest import login
from conftest import make_app

from paydash.extensions import db
from paydash.models import Role
from paydash.models import User

DASHBOARD = "/api/dashboard/summary?period=12m"


@pytest.fixture
def admin_client(app, people):
    return login(app.test_client(), "admin@acme.test")


def another_process_sets(app, user_id: int, **values) -> None:
    """Change a user the way another process would: a plain UPDATE this process never sees."""
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.begin() as conn:
        conn.execute(sa.update(User.__table__).where(User.__table__.c.id == user_id).values(**values))
    engine.dispose()


def statements_seen(app) -> list[str]:
    """Every SQL statement the app's SQLite connections run from now on (pings included)."""
    seen: list[str] = []
    with app.app_context():
        sa.event.listen(db.engine, "connect", lambda conn, _record: conn.set_trace_callback(seen.append))
        db.engine.dispose()  # New connections, so each gets the trace callback.
    return seen


def test_a_cached_user_who_is_deactivated_loses_access_at_the_next_request(app, admin_client, people):
    victim = login(app.test_client(), "hr2@acme.test")
    assert victim.get(DASHBOARD).status_code == 200  # now cached
    admin_client.post(f"/admin/users/{people.hr_a2}/deactivate")
    assert victim.get(DASHBOARD).status_code == 401
    assert victim.get("/").status_code == 302


def test_a_password_reset_ends_a_cached_session_at_the_next_request(app, admin_client, people):
    victim = login(app.test_client(), "hr2@acme.test")
    assert victim.get(DASHBOARD).status_code == 200
    admin_client.post(f"/admin/users/{people.hr_a2}/reset-password")
    assert victim.get(DASHBOARD).status_code == 401


def test_a_role_change_in_this_process_applies_at_the_next_request(app, admin_client, people):
    assert admin_client.get("/admin/users").status_code == 200
    with app.app_context():
        db.session.get(User, people.admin_a).role = Role.HR.value
        db.session.commit()
    assert admin_client.get("/admin/users").status_code == 403


def test_a_deactivation_by_another_process_applies_at_the_next_request(app, people):
    client = login(app.test_client(), "hr@acme.test")
    assert client.get(DASHBOARD).status_code == 200
    another_process_sets(app, people.hr_a, active=False)
    assert client.get(DASHBOARD).status_code == 401


def test_a_signed_in_request_reads_its_session_in_one_statement(app, hr_client):
    assert hr_client.get("/api/ping").status_code == 200
    seen = statements_seen(app)
    assert hr_client.get("/api/ping").status_code == 200
    queries = [s for s in seen if s.strip().upper() != "SELECT 1" and not s.startswith("PRAGMA")]
    assert len(queries) == 1 and "user_session" in queries[0]


def test_a_cached_dashboard_answer_reads_only_the_chart_state(app, hr_client):
    first = hr_client.get(DASHBOARD)
    seen = statements_seen(app)
    again = hr_client.get(DASHBOARD)
    assert again.data == first.data
    queries = [s for s in seen if s.strip().upper() != "SELECT 1" and not s.startswith("PRAGMA")
               and s.strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK")]
    assert len(queries) == 2, queries
    assert "user_session" in queries[0] and "chart_version" in queries[1]


def test_the_dashboard_answers_after_the_database_closed_its_connections(tmp_path, pg_url):
    app = make_app(base_config(tmp_path, pg_url, HUEY_IMMEDIATE=True))
    People(app)
    client = login(app.test_client(), "hr@acme.test")
    assert client.get(DASHBOARD).status_code == 200
    admin = sa.create_engine(pg_url)
    with admin.connect() as conn:  # what a database restart does to every pooled connection
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    admin.dispose()
    assert client.get(DASHBOARD).status_code == 200
    dispose_app(app)
