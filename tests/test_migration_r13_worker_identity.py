"""Migration r13_worker_identity keeps every Worker row and gives each its own process key."""
import pytest
import sqlalchemy as sa
from test_migrations import flask_db

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_existing_workers_are_kept_with_a_key_each_and_no_machine(backend, tmp_path, request):
    url = (f"sqlite:///{tmp_path / 'paydash.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    before = flask_db(url, tmp_path, "upgrade", "9b41c6e2d7f3")
    assert before.returncode == 0, before.stderr[-2000:]
    engine = sa.create_engine(url)
    rows = [{"id": f"vm:{pid}", "host": "vm", "pid": pid, "worker_type": "thread",
             "concurrency": 2, "queue_backend": "redis", "started_at": "2026-11-30 10:00:00",
             "heartbeat_at": "2026-11-30 10:05:00", "stopped_at": None} for pid in (11, 12, 13)]
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO worker (id, host, pid, worker_type, concurrency, queue_backend, "
            "started_at, heartbeat_at, stopped_at) VALUES (:id, :host, :pid, :worker_type, "
            ":concurrency, :queue_backend, :started_at, :heartbeat_at, :stopped_at)"), rows)
    after = flask_db(url, tmp_path, "upgrade", "r13_worker_identity")
    assert after.returncode == 0, after.stderr[-2000:]
    with engine.connect() as conn:
        kept = conn.execute(sa.text(
            "SELECT id, host, pid, worker_type, process_key, machine FROM worker ORDER BY id")).all()
    engine.dispose()
    assert [(r.id, r.host, r.pid, r.worker_type) for r in kept] == [
        (r["id"], "vm", r["pid"], "thread") for r in rows]
    keys = [r.process_key for r in kept]
    assert all(keys) and len(set(keys)) == 3
    assert [r.machine for r in kept] == [None, None, None]  # Judged by their lease alone.
