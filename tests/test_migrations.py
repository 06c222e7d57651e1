"""The release phase: `flask db upgrade` builds the schema the models describe, on both databases."""
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from conftest import ROOT

pytestmark = pytest.mark.slow


def insert_tenant_and_user(conn, now, role: str = "tenant_admin") -> None:
    """Tenant 1 and its user 1, as any release since the first stores them."""
    conn.execute(sa.text("INSERT INTO tenant (id, name, slug, created_at, days_basis, shift_hours, "
                         "break_hours, variance_pct, pf_enabled, esi_enabled) VALUES "
                         "(1, 'Acme', 'acme', :now, 'calendar', 9, 1, 20, false, false)"), {"now": now})
    conn.execute(sa.text("INSERT INTO \"user\" (id, tenant_id, email, name, password_hash, role, active, "
                         "created_at) VALUES (1, 1, 'a@acme.test', 'A', 'x', :role, true, :now)"),
                 {"now": now, "role": role})


def flask_db(database_url: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=database_url, PAYDASH_INSTANCE=str(tmp_path / "instance"),
               HUEY_SQLITE_PATH=str(tmp_path / "huey.db"))
    env.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_builds_the_models_schema_with_nothing_left_to_migrate(backend, tmp_path, request):
    url = (f"sqlite:///{tmp_path / 'paydash.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    upgrade = flask_db(url, tmp_path, "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr[-2000:]
    check = flask_db(url, tmp_path, "check")
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    assert "No new upgrade operations detected" in check.stdout + check.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_each_revision_downgrades_and_upgrades_again(backend, tmp_path, request):
    url = (f"sqlite:///{tmp_path / 'paydash.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    for args in (["upgrade"], ["downgrade", "base"], ["upgrade"]):
        result = flask_db(url, tmp_path, *args)
        assert result.returncode == 0, " ".join(args) + ": " + result.stderr[-2000:]
    current = flask_db(url, tmp_path, "current")
    heads = flask_db(url, tmp_path, "heads")
    assert heads.stdout.split()[0] in current.stdout
