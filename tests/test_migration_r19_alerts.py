"""Migration r19_alerts on a filled database: every existing row is kept and the three alert
tables arrive empty and usable, on SQLite and PostgreSQL; downgrade removes only them."""
import datetime as dt

import pytest
import sqlalchemy as sa
from test_migrations import flask_db
from test_migrations import insert_tenant_and_user

pytestmark = pytest.mark.slow

NOW = dt.datetime(2026, 12, 1, 9, 0)


def fill(engine) -> None:
    with engine.begin() as conn:
        insert_tenant_and_user(conn, NOW)
        conn.execute(sa.text("INSERT INTO job (id, task_name, queue, tenant_id, state, attempts, max_attempts, "
                             "priority, created_at, progress_done) VALUES "
                             "('j1', 'import_salary_sheet', 'imports', 1, 'FAILURE', 3, 3, 30, :now, 0)"),
                     {"now": NOW})


def counts(engine) -> dict:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar()
                for t in ("tenant", "user", "job")}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_r19_alerts_keeps_every_row_and_adds_empty_alert_tables(backend, tmp_path, request):
    url = (f"sqlite:///{tmp_path / 'paydash.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    result = flask_db(url, tmp_path, "upgrade", "9b41c6e2d7f3")
    assert result.returncode == 0, result.stderr[-2000:]
    engine = sa.create_engine(url)
    try:
        fill(engine)
        before = counts(engine)
        result = flask_db(url, tmp_path, "upgrade", "r19_alerts")
        assert result.returncode == 0, result.stderr[-2000:]
        assert counts(engine) == before == {"tenant": 1, "user": 1, "job": 1}
        names = set(sa.inspect(engine).get_table_names())
        assert {"alert_setting", "alert_state", "alert_delivery"} <= names
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO alert_state (scope, condition, subject, status, summary, link, "
                                 "occurrences, notified, opened_at, last_seen_at) VALUES "
                                 "('tenant:1', 'job_failed', '', 'open', '1 job failed', '/jobs/j1', 1, true, "
                                 ":now, :now)"), {"now": NOW})
            with pytest.raises(sa.exc.IntegrityError):  # One state per (scope, condition, subject).
                with conn.begin_nested():
                    conn.execute(sa.text("INSERT INTO alert_state (scope, condition, subject, status, summary, "
                                         "link, occurrences, notified, opened_at, last_seen_at) VALUES "
                                         "('tenant:1', 'job_failed', '', 'open', 'again', '', 1, true, :now, :now)"),
                                 {"now": NOW})
        result = flask_db(url, tmp_path, "downgrade", "9b41c6e2d7f3")
        assert result.returncode == 0, result.stderr[-2000:]
        sa.inspect(engine).clear_cache()
        assert "alert_state" not in set(sa.inspect(engine).get_table_names())
        assert counts(engine) == before
    finally:
        engine.dispose()
