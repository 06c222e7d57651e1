"""Migration r16_sessions keeps every tenant and user, and starts them with no two-step
sign-in, no reset pending and no sessions (on SQLite and PostgreSQL)."""
import pytest
import sqlalchemy as sa
from test_migrations import flask_db

pytestmark = pytest.mark.slow

BEFORE = "9b41c6e2d7f3"
MINE = "r16_sessions"
USERS = 'SELECT id, tenant_id, email, name, password_hash, role, active FROM "user" ORDER BY id'
NEW_USER_COLUMNS = ('SELECT totp_secret, totp_last_step, recovery_codes, reset_token_hash,'
                    ' reset_token_expires FROM "user"')


def fill(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO tenant (id, name, slug, created_at, days_basis, shift_hours, break_hours,"
            " variance_pct, pf_enabled, esi_enabled) VALUES"
            " (1, 'Acme', 'acme', '2026-01-01', 'calendar', 9, 1, 20, false, false),"
            " (2, 'Bharat', 'bharat', '2026-01-02', '30', 8, 1, 20, true, false)"))
        conn.execute(sa.text(
            'INSERT INTO "user" (id, tenant_id, email, name, password_hash, role, active, created_at)'
            " VALUES (1, 1, 'hr@acme.test', 'Asha', 'scrypt:32768:8:1$a$b', 'hr', true, '2026-01-01'),"
            " (2, 1, 'admin@acme.test', 'Anil', 'scrypt:16384:8:1$c$d', 'tenant_admin', false, '2026-01-01'),"
            " (3, NULL, 'ops@x.test', 'Olga', 'pbkdf2:sha256$e$f', 'operator', true, '2026-01-03')"))
        conn.execute(sa.text(
            "INSERT INTO upload (id, tenant_id, uploaded_by_id, filename, sha256, size, year, month,"
            " status, error_count, warning_count, created_at) VALUES"
            " (1, 1, 1, 'oct.xlsx', 'ab', 10, 2026, 10, 'confirmed', 0, 0, '2026-11-01')"))
    engine.dispose()


def read(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(sql))]
    engine.dispose()
    return rows


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_keeps_every_user_and_tenant(backend, tmp_path, request):
    url = (f"sqlite:///{tmp_path / 'paydash.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    assert flask_db(url, tmp_path, "upgrade", BEFORE).returncode == 0
    fill(url)
    users_before = read(url, USERS)
    tenants_before = read(url, "SELECT id, name, slug, days_basis FROM tenant ORDER BY id")
    result = flask_db(url, tmp_path, "upgrade", MINE)
    assert result.returncode == 0, result.stderr[-2000:]
    assert read(url, USERS) == users_before
    assert read(url, "SELECT id, name, slug, days_basis FROM tenant ORDER BY id") == tenants_before
    assert read(url, NEW_USER_COLUMNS) == [(None, None, None, None, None)] * 3
    assert [bool(r[0]) for r in read(url, "SELECT require_two_step FROM tenant")] == [False, False]
    assert read(url, "SELECT count(*) FROM user_session") == [(0,)]
    assert read(url, "SELECT id, uploaded_by_id FROM upload") == [(1, 1)]
    back = flask_db(url, tmp_path, "downgrade", BEFORE)
    assert back.returncode == 0, back.stderr[-2000:]
    assert read(url, 'SELECT id, email, password_hash FROM "user" ORDER BY id') == [
        (u[0], u[2], u[4]) for u in users_before]
