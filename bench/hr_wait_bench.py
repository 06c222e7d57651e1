"""What HR waits for: a 2,000-row sheet through the real consumer, on the SQLite queue and on Redis.

Measures, side by side in one run:
- upload accepted → preview ready (the import job's SUCCESS in the ledger), target ≤ 1.5 s;
- confirm → the dashboard JSON shows the month (commit job + chart sync job), target ≤ 1 s.

    .venv/bin/python bench/hr_wait_bench.py [--runs 5] [--rows 2000]

Needs Redis for the Redis column: BENCH_REDIS_URL (default redis://127.0.0.1:6379/0). Prints medians per backend.
"""
import argparse
import io
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = pathlib.Path(tempfile.mkdtemp(prefix="paydash-hrwait-"))
os.environ["PAYDASH_INSTANCE"] = str(WORK / "instance")

import sqlalchemy as sa  # noqa: E402
from openpyxl import Workbook  # noqa: E402

from bench import environment  # noqa: E402
from paydash import accounts  # noqa: E402
from paydash.extensions import db  # noqa: E402
from paydash.ledger.models import Job  # noqa: E402
from paydash.services import imports  # noqa: E402


def build_sheet(rows: int) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["Emp Code", "Employee Name", "Department", "Basic", "Gross", "TDS", "Net Pay"])
    for i in range(rows):
        gross = Decimal(18000 + (i * 37) % 60000)
        tds = (gross * Decimal("0.04")).quantize(Decimal("0.01"))
        ws.append([f"E{i:05d}", f"Person {i}", f"Dept {i % 9}", float(gross * Decimal("0.6")),
                   float(gross), float(tds), float(gross - tds)])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def make_app(label: str, redis_url: str | None):
    from app import create_app  # noqa: PLC0415  (after PAYDASH_INSTANCE is set)
    config = {
        "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{WORK / label}.db",
        "HUEY_SQLITE_PATH": str(WORK / f"{label}-huey.db"), "REDIS_URL": redis_url,
        "HUEY_NAME": f"paydash_bench_{uuid.uuid4().hex[:8]}",
    }
    app = create_app(config)
    with app.app_context():
        db.create_all()
    return app


def start_consumer(app) -> subprocess.Popen:
    env = dict(os.environ, SECRET_KEY="bench", DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               HUEY_SQLITE_PATH=app.config["HUEY_SQLITE_PATH"], HUEY_NAME=app.config["HUEY_NAME"],
               PYTHONPATH=str(ROOT))
    if app.config.get("REDIS_URL"):
        env["REDIS_URL"] = app.config["REDIS_URL"]
    else:
        env.pop("REDIS_URL", None)
    cmd = [sys.executable, "-m", "huey.bin.huey_consumer", "huey_app.huey", "-w", "2", "-k", "thread",
           "-d", "0.05", "-m", "0.1", "-b", "1.2", "--graceful-signal", "TERM"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(3)  # let it start and go idle, as a consumer waiting for HR would be
    return proc


def wait_state(app, predicate, timeout=60.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        with app.app_context():
            if predicate():
                return time.perf_counter() - start
            db.session.rollback()
        time.sleep(0.005)
    raise TimeoutError("job did not finish")


def one_run(app, tenant_id, user_id, data, month) -> tuple[float, float]:
    with app.app_context():
        t0 = time.perf_counter()
        upload = imports.receive_upload(tenant_id, user_id, "bench.xlsx", data, 2025, month)
        upload_id, job_id = upload.id, upload.job_id
    wait_state(app, lambda: db.session.get(Job, job_id).state == "SUCCESS")
    preview = time.perf_counter() - t0  # includes receiving the file
    with app.app_context():
        t1 = time.perf_counter()
        imports.confirm_upload(upload_id, tenant_id, user_id, keep_duplicates=True)

    def chart_ready():
        job = db.session.scalars(sa.select(Job).where(
            Job.task_name == "sync_chart_data_batch", Job.tenant_id == tenant_id,
            Job.month == month)).first()
        return job is not None and job.state == "SUCCESS"

    wait_state(app, chart_ready)
    return preview, time.perf_counter() - t1


def bench_backend(label: str, redis_url: str | None, data: bytes, runs: int) -> dict:
    app = make_app(label, redis_url)
    with app.app_context():
        tenant = accounts.create_tenant("Bench Co", f"bench-{label}")
        user = accounts.create_user(f"hr@{label}.bench", "bench-password", tenant=tenant)
        db.session.commit()
        tenant_id, user_id = tenant.id, user.id
    consumer = start_consumer(app)
    try:
        results = [one_run(app, tenant_id, user_id, data, month) for month in range(1, runs + 1)]
    finally:
        os.killpg(consumer.pid, signal.SIGTERM)
        consumer.wait(30)
    previews = [r[0] for r in results]
    confirms = [r[1] for r in results]
    return {"preview_median": statistics.median(previews), "preview_max": max(previews),
            "confirm_median": statistics.median(confirms), "confirm_max": max(confirms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    data = build_sheet(args.rows)
    rows = {"sqlite queue": bench_backend("sqlite", None, data, args.runs),
            "redis queue": bench_backend("redis", environment.redis_url(), data, args.runs)}
    print(f"\nWhat HR waits for: {args.rows}-row sheet, {args.runs} runs each, real huey_consumer "
          f"(2 thread workers), SQLite app database\n")
    print(f"{'queue':14} {'upload→preview p50':>20} {'max':>8} {'confirm→dashboard p50':>23} {'max':>8}")
    for label, r in rows.items():
        print(f"{label:14} {r['preview_median']:>19.3f}s {r['preview_max']:>7.3f}s "
              f"{r['confirm_median']:>22.3f}s {r['confirm_max']:>7.3f}s")
    print("\ntargets: upload→preview ≤ 1.5 s, confirm→dashboard ≤ 1 s")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
