"""r17_tenant_timezone: every tenant is kept and reads its pages in Asia/Kolkata until changed."""
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from conftest import ROOT

pytestmark = pytest.mark.slow


def flask_db(database_url: str, tmp_path, *args: str) -> None:
    env = dict(os.environ, DATABASE_URL=database_url, PAYDASH_INSTANCE=str(tmp_path / "instance"),
               HUEY_SQLITE_PATH=str(tmp_path / "huey.db"))
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", *args], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_keeps_every_tenant_and_gives_it_india_time(backend, tmp_path, request):
    url = (f"sqlite:///{tmp_path / 'paydash.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    flask_db(url, tmp_path, "upgrade", "9b41c6e2d7f3")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for slug in ("acme", "bharat", "chola"):
            conn.execute(sa.text(
                "INSERT INTO tenant (name, slug, created_at, days_basis, shift_hours, break_hours, "
                "variance_pct, pf_enabled, esi_enabled, pt_state) VALUES "
                "(:name, :slug, '2026-01-01 00:00:00', '26', 8.5, 1, 15, true, false, 'MH')"),
                {"name": slug.title() + " Pvt Ltd", "slug": slug})
        before = conn.execute(sa.text("SELECT * FROM tenant ORDER BY id")).mappings().all()
    engine.dispose()

    flask_db(url, tmp_path, "upgrade", "r17_tenant_timezone")

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        after = conn.execute(sa.text("SELECT * FROM tenant ORDER BY id")).mappings().all()
        conn.execute(sa.text("INSERT INTO tenant (name, slug, created_at, days_basis, shift_hours, "
                             "break_hours, variance_pct, pf_enabled, esi_enabled) VALUES "
                             "('New', 'new', '2026-12-01 00:00:00', 'calendar', 9, 1, 20, false, false)"))
        fresh = conn.execute(sa.text("SELECT timezone FROM tenant WHERE slug = 'new'")).scalar_one()
    engine.dispose()
    assert len(after) == len(before) == 3
    for old, new in zip(before, after, strict=True):
        assert {k: new[k] for k in old} == dict(old)
        assert new["timezone"] == "Asia/Kolkata"
    assert fresh == "Asia/Kolkata"
