"""r15_sheet_layouts adds the table of remembered column mappings and keeps every existing row."""
import datetime as dt

import pytest
import sqlalchemy as sa
from test_migrations import flask_db

pytestmark = pytest.mark.slow
NOW = dt.datetime(2026, 11, 30, 9, 0)


def fill(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO tenant (id, name, slug, created_at, days_basis, shift_hours, break_hours, "
            "variance_pct, pf_enabled, esi_enabled) VALUES (1, 'Acme', 'acme', :now, 'calendar', "
            "9, 1, 20, false, false)"), {"now": NOW})
        conn.execute(sa.text(
            "INSERT INTO \"user\" (id, tenant_id, email, name, password_hash, role, active, "
            "created_at) VALUES (1, 1, 'hr@acme.test', 'Asha', 'x', 'hr', true, :now)"), {"now": NOW})
        conn.execute(sa.text(
            "INSERT INTO upload (id, tenant_id, uploaded_by_id, filename, sha256, size, year, month, "
            "status, error_count, warning_count, created_at) VALUES (1, 1, 1, 'oct.xlsx', 'ab', 10, "
            "2026, 10, 'rejected', 0, 0, :now)"), {"now": NOW})
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_to_r15_keeps_every_row_and_stores_a_layout(backend, tmp_path, request):
    url = (f"sqlite:///{tmp_path / 'paydash.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    before = flask_db(url, tmp_path, "upgrade", "9b41c6e2d7f3")
    assert before.returncode == 0, before.stderr[-2000:]
    fill(url)
    after = flask_db(url, tmp_path, "upgrade", "r15_sheet_layouts")
    assert after.returncode == 0, after.stderr[-2000:]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT slug FROM tenant")).scalars().all() == ["acme"]
        assert conn.execute(sa.text("SELECT email FROM \"user\"")).scalars().all() == ["hr@acme.test"]
        assert conn.execute(sa.text("SELECT status FROM upload")).scalars().all() == ["rejected"]
        assert conn.execute(sa.text("SELECT count(*) FROM sheet_layout")).scalar() == 0
        conn.execute(sa.text(
            "INSERT INTO sheet_layout (tenant_id, signature, mapping, all_sheets, updated_at) "
            "VALUES (1, 'abc123', '{\"D\": \"net\"}', false, :now)"), {"now": NOW})
        with pytest.raises(sa.exc.IntegrityError):
            with conn.begin_nested():
                conn.execute(sa.text(
                    "INSERT INTO sheet_layout (tenant_id, signature, mapping, all_sheets, "
                    "updated_at) VALUES (1, 'abc123', '{}', false, :now)"), {"now": NOW})
    engine.dispose()
    down = flask_db(url, tmp_path, "downgrade", "9b41c6e2d7f3")
    assert down.returncode == 0, down.stderr[-2000:]
