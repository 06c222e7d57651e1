"""Overview and jobs-list JSON with 1,000,000 job rows in the ledger on PostgreSQL: p50/p95.

Rows are generated in the database (`INSERT ... SELECT generate_series`) over the last
30 days: mostly successes, some failures, a few pending, running and retrying. Requests
go through Flask's test client (the whole view: access filter, queries, JSON), signed in
as an operator and as a tenant admin. The first overview call rolls up the closed hours
of the last 7 days; it is timed separately, as "first call".

    python bench/jobs_api_bench.py --rows 1000000 --requests 200
    python bench/jobs_api_bench.py --keep            # leave the database, print its name
    python bench/jobs_api_bench.py --reuse NAME      # measure again on a kept database

With --reuse the rollup is dropped first, so "first call" measures the same work again.
"""
import argparse
import os
import pathlib
import statistics
import sys
import time
import uuid

import sqlalchemy as sa

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import environment  # noqa: E402

PG_ADMIN_URL = environment.database_url()
REDIS_URL = environment.redis_url()
DB_NAME = f"paydash_api_bench_{uuid.uuid4().hex[:8]}"
PASSWORD = "bench-password-1"
TENANTS = 50

FILL = """
INSERT INTO job (id, task_name, queue, tenant_id, args, state, attempts, max_attempts, priority,
                 created_at, enqueued_at, started_at, finished_at, heartbeat_at, worker_id,
                 progress_done, runtime_seconds, error, year, month)
SELECT md5(g::text || :salt)::uuid::text,
       (ARRAY['sync_chart_data_batch','import_salary_sheet','commit_salary_sheet','noop'])[1 + g % 4],
       (ARRAY['chart_sync','imports','imports','maintenance'])[1 + g % 4],
       1 + g % :tenants, '{"args": []}'::json,
       CASE WHEN g % 1000 = 0 THEN 'PENDING' WHEN g % 1000 = 1 THEN 'STARTED'
            WHEN g % 1000 = 2 THEN 'RETRY' WHEN g % 33 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END,
       1, 4, 0, c, c + interval '5 ms', c + interval '50 ms',
       CASE WHEN g % 1000 IN (0, 1, 2) THEN NULL ELSE c + interval '50 ms' + (g % 5000) * interval '1 ms' END,
       c, 'bench:1', 0, (g % 5000) / 1000.0,
       CASE WHEN g % 33 = 0 THEN 'RuntimeError: synthetic failure ' || (g % 97) END,
       2025, 1 + g % 12
FROM (SELECT g, now() at time zone 'utc' - (g * (30 * 86400.0 / :rows)) * interval '1 second' AS c
      FROM generate_series(1, :rows) AS g) AS s
"""


def build(rows: int, reuse: bool = False):
    if not reuse:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
        admin.dispose()
    os.environ.update(DATABASE_URL=environment.sibling_database(DB_NAME),
                      REDIS_URL=REDIS_URL, SECRET_KEY="bench-secret", HUEY_NAME=DB_NAME)
    from app import create_app  # noqa: PLC0415  (reads the environment set above)
    from paydash import accounts  # noqa: PLC0415
    from paydash.extensions import db  # noqa: PLC0415
    from paydash.models import Role  # noqa: PLC0415
    # Two-step sign-in (issue 16) is not what this measures: admins and operators sign in with a password.
    app = create_app({"WTF_CSRF_ENABLED": False, "TWO_STEP_ENFORCED": False})
    if reuse:
        with app.app_context():
            db.create_all()  # tables this checkout adds; the job rows are kept
            db.session.execute(sa.text("DELETE FROM job_hour_stat"))
            db.session.commit()
        return app
    with app.app_context():
        db.create_all()
        tenants = [accounts.create_tenant(f"Tenant {i}", f"t{i}") for i in range(1, TENANTS + 1)]
        accounts.create_user("ops@bench.test", PASSWORD, role=Role.OPERATOR.value)
        accounts.create_user("admin@bench.test", PASSWORD, role=Role.TENANT_ADMIN.value, tenant=tenants[6])
        db.session.commit()
        t0 = time.perf_counter()
        db.session.execute(sa.text(FILL), {"rows": rows, "tenants": TENANTS, "salt": DB_NAME})
        db.session.commit()
        print(f"generated {rows:,} jobs in {time.perf_counter() - t0:.1f} s")
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE job"))
    return app


def client_for(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    return client


def timed(client, url: str, n: int, cpu: list | None = None) -> list[float]:
    """Wall ms of each request; with `cpu`, also this process's CPU ms of each (thread_time)."""
    out = []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.thread_time()
        response = client.get(url)
        out.append((time.perf_counter() - t0) * 1000)
        if cpu is not None:
            cpu.append((time.thread_time() - c0) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return out


def db_cpu_ms() -> float | None:
    """CPU ms used so far by the PostgreSQL backends serving this database (None when the
    server's processes cannot be read: another host, or no /proc)."""
    admin = sa.create_engine(PG_ADMIN_URL)
    try:
        with admin.connect() as conn:
            pids = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :n"),
                                {"n": DB_NAME}).scalars().all()
    finally:
        admin.dispose()
    total = 0
    try:
        for pid in pids:
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    except OSError:
        return None
    return total * 1000 / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


def breakdown(app, n: int = 30) -> None:
    """Median ms of each part of the operator's overview, called directly (no HTTP)."""
    from paydash.clock import utcnow  # noqa: PLC0415
    from paydash.ledger import latency  # noqa: PLC0415
    from paydash.ledger import rollups  # noqa: PLC0415
    from paydash.ledger import stats  # noqa: PLC0415
    from paydash.ledger.queue import registered_task_names  # noqa: PLC0415
    with app.app_context():
        huey = app.extensions["huey"]
        names = registered_task_names(huey)
        # Each part as the overview calls it, in this checkout (the bench also runs from a copy
        # of older code for before/after: then the parts are the older ones).
        if hasattr(rollups, "throughput_and_successes"):
            def percentiles():
                now = utcnow()
                successes = rollups.throughput_and_successes(None, now)[1]
                t0 = time.perf_counter()
                stats.runtime_percentiles(None, names, now, successes)
                return time.perf_counter() - t0
        else:
            def percentiles():
                t0 = time.perf_counter()
                stats.runtime_percentiles(None, names, utcnow())
                return time.perf_counter() - t0
        if hasattr(stats, "running_views"):
            def running():
                return stats.running_views(None, utcnow(), 60)
        else:
            def running():
                return [stats.job_view(j, utcnow(), 60) for j in stats.running_jobs(stats.everything)]
        parts = {
            "queue figures": lambda: stats.queue_figures(None, utcnow()),
            "throughput (rollup + live)": lambda: rollups.throughput(None, utcnow()),
            "run time percentiles": percentiles,
            "queue latency (as polled)": lambda: latency.per_minute(None, utcnow()),
            # What each poll pays while jobs are starting: the open minutes read again.
            "queue latency (open minutes read)": lambda: latency.waits_by_minute(
                None, latency.floor_minute(utcnow() - latency.GRACE)),
            # The whole hour read again: what a process's first overview pays once.
            "queue latency (cache emptied)": lambda: (latency.clear_cache(), latency.per_minute(None, utcnow())),
            "health": lambda: stats.health(huey, 60, utcnow()),
            "running jobs": running,
        }
        print("\noverview parts, operator (median ms; percentiles: their own time, after the live count)")
        for label, fn in parts.items():
            values = []
            for _ in range(n):
                t0 = time.perf_counter()
                own = fn()
                values.append((own if isinstance(own, float) else time.perf_counter() - t0) * 1000)
            print(f"  {label:34} {statistics.median(values):7.1f}")


def drop() -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                     {"n": DB_NAME})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}"'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--reuse", metavar="NAME", help="a database left by --keep")
    args = parser.parse_args()
    global DB_NAME
    DB_NAME = args.reuse or DB_NAME
    try:
        app = build(args.rows, reuse=bool(args.reuse))
        ops, admin = client_for(app, "ops@bench.test"), client_for(app, "admin@bench.test")
        first = timed(ops, "/api/jobs/overview", 1)[0]
        print(f"first overview call (rolls up 7 days of closed hours): {first:.0f} ms")
        page = ops.get("/api/jobs").get_json()
        cases = [
            ("overview, operator", ops, "/api/jobs/overview"),
            ("overview, tenant admin", admin, "/api/jobs/overview"),
            ("jobs list, operator, newest", ops, "/api/jobs"),
            ("jobs list, operator, page 2", ops, f"/api/jobs?cursor={page['next_cursor']}"),
            ("jobs list, state=FAILURE", ops, "/api/jobs?state=FAILURE"),
            ("jobs list, task + queue", ops, "/api/jobs?task=noop&queue=maintenance"),
            ("jobs list, tenant admin", admin, "/api/jobs"),
        ]
        print(f"\n{args.rows:,} jobs in the ledger, {args.requests} requests each (ms); "
              f"load average {load()}")
        print(f"  {'endpoint':34} {'p50':>7} {'p95':>7} {'CPU p50':>8} {'DB CPU':>7}")
        for label, client, url in cases:
            timed(client, url, 5)  # warm the connection pool and the plan cache
            cpu: list[float] = []
            db_before = db_cpu_ms()
            values = timed(client, url, args.requests, cpu)
            db_after = db_cpu_ms()
            db_mean = (f"{(db_after - db_before) / args.requests:7.1f}"
                       if db_before is not None and db_after is not None else "      ?")
            print(f"  {label:34} {statistics.median(values):7.1f} {p95(values):7.1f} "
                  f"{statistics.median(cpu):8.1f} {db_mean}")
        print(f"  (CPU p50: this process's per request; DB CPU: the database backends' mean per "
              f"request, from /proc; load average {load()})")
        breakdown(app)
    finally:
        if args.keep or args.reuse:
            print(f"database kept: {DB_NAME}")
        else:
            drop()


if __name__ == "__main__":
    main()
