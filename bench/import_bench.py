"""Bulk import: Paydash's whole pipeline through the real consumer vs a bare openpyxl read.

For sheets of 2,000, 10,000 and 100,000 rows in the tenant's template layout, measures
side by side in one run:
- a bare openpyxl read-only pass over the file (load + every row's values);
- Paydash: receive (file checks, store, enqueue) → validate → confirm → commit → chart
  sync, through a real `huey_consumer` subprocess on the SQLite queue; timed from the
  start of `receive_upload` to the chart sync job's SUCCESS in the job ledger;
- the consumer's peak RSS (VmHWM from /proc; one fresh consumer per sheet size).

    .venv/bin/python bench/import_bench.py [--sizes 2000,10000,100000] [--runs 3] [--big-runs 1]

Targets (issue 2): pipeline / openpyxl ≤ 1.0; worker peak RSS ≤ 250 MB at 100,000 rows.
"""
import argparse
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
WORK = pathlib.Path(tempfile.mkdtemp(prefix="paydash-importbench-"))
os.environ["PAYDASH_INSTANCE"] = str(WORK / "instance")
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)

import openpyxl  # noqa: E402
import sheet_builders  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from paydash import accounts  # noqa: E402
from paydash.extensions import db  # noqa: E402
from paydash.ledger.models import Job  # noqa: E402
from paydash.models import Upload  # noqa: E402
from paydash.models import UploadStatus  # noqa: E402
from paydash.services import imports  # noqa: E402

POLL = 0.05


def openpyxl_pass(path: pathlib.Path) -> float:
    """Seconds for openpyxl read-only to load the file and produce every row's values."""
    start = time.perf_counter()
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    for _row in book.active.iter_rows(values_only=True):
        pass
    book.close()
    return time.perf_counter() - start


def make_app(label: str):
    from app import create_app  # noqa: PLC0415  (after PAYDASH_INSTANCE is set)
    config = {"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{WORK / label}.db",
              "HUEY_SQLITE_PATH": str(WORK / f"{label}-huey.db"), "REDIS_URL": None,
              "HUEY_NAME": f"paydash_bench_{uuid.uuid4().hex[:8]}",
              # The 100,000-row file is ~13 MB, past the default 10 MB upload limit.
              "MAX_CONTENT_LENGTH": 64 * 1024 * 1024}
    app = create_app(config)
    with app.app_context():
        db.create_all()
        tenant = accounts.create_tenant("Bench Traders", "bench")
        user = accounts.create_user("hr@bench.test", "bench-password-1", tenant=tenant)
        db.session.commit()
        return app, tenant.id, user.id


def start_consumer(app, log_path: pathlib.Path) -> subprocess.Popen:
    env = dict(os.environ, SECRET_KEY="bench", DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               HUEY_SQLITE_PATH=app.config["HUEY_SQLITE_PATH"], HUEY_NAME=app.config["HUEY_NAME"],
               PYTHONPATH=str(ROOT), WORKERS="2", WORKER_TYPE="thread")
    # The Procfile's worker command line.
    cmd = [sys.executable, "-m", "huey.bin.huey_consumer", "huey_app.huey", "--workers", "2",
           "--worker-type", "thread", "--delay", "0.05", "--max-delay", "0.1", "--backoff", "1.2",
           "--graceful-signal", "TERM", "--shutdown-timeout", "20"]
    log = open(log_path, "ab")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    time.sleep(3)  # started and idle, as a worker waiting for HR would be
    return proc


def stop_consumer(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def peak_rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_for(app, predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            value = predicate()
            db.session.remove()
        if value:
            return value
        time.sleep(POLL)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def pipeline_run(app, tenant_id: int, user_id: int, data: bytes, month: int) -> dict:
    """One upload through receive → preview → confirm → commit → chart sync; seconds per stage."""
    start = time.perf_counter()
    with app.app_context():
        upload_id = imports.receive_upload(tenant_id, user_id, "bench.xlsx", data, 2025, month).id
    received = time.perf_counter()

    def previewed():
        status = db.session.scalar(sa.select(Upload.status).where(Upload.id == upload_id))
        if status in (UploadStatus.REJECTED.value, UploadStatus.FAILED.value):
            raise SystemExit(f"upload {upload_id} ended {status}")
        return status == UploadStatus.PREVIEW.value

    wait_for(app, previewed, 600, "the preview")
    preview_at = time.perf_counter()
    with app.app_context():
        imports.confirm_upload(upload_id, tenant_id, user_id, keep_duplicates=True)

    def synced():
        job = db.session.scalars(sa.select(Job).where(
            Job.task_name == "sync_chart_data_batch", Job.tenant_id == tenant_id,
            Job.year == 2025, Job.month == month)).first()
        if job is not None and job.state == "FAILURE":
            raise SystemExit(f"chart sync failed: {job.error}")
        return job is not None and job.state == "SUCCESS"

    wait_for(app, synced, 600, "the chart sync")
    done = time.perf_counter()
    return {"total": done - start, "receive": received - start,
            "validate": preview_at - received, "commit_sync": done - preview_at}


def measure(rows: int, runs: int) -> dict:
    path = WORK / f"template-{rows}.xlsx"
    sheet_builders.write_template_xlsx(path, rows)
    data = path.read_bytes()
    app, tenant_id, user_id = make_app(f"bench{rows}")
    consumer = start_consumer(app, WORK / f"consumer-{rows}.log")
    try:
        bare, ours = [], []
        for run in range(runs):
            bare.append(openpyxl_pass(path))
            ours.append(pipeline_run(app, tenant_id, user_id, data, 1 + run % 12))
        rss = peak_rss_mb(consumer.pid)
    finally:
        stop_consumer(consumer)
    median = {key: statistics.median(r[key] for r in ours) for key in ours[0]}
    return {"rows": rows, "mb": len(data) / 1048576, "openpyxl": statistics.median(bare),
            "pipeline": median, "rss": rss, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,10000,100000")
    parser.add_argument("--runs", type=int, default=3, help="runs per size below 100,000 rows")
    parser.add_argument("--big-runs", type=int, default=1, help="runs at 100,000 rows and more")
    args = parser.parse_args()
    print(f"{'rows':>8} {'file MB':>8} {'runs':>4} {'openpyxl s':>11} {'pipeline s':>11} "
          f"{'ratio':>6} {'receive':>8} {'validate':>9} {'commit+sync':>12} {'worker peak MB':>15}")
    for rows in (int(n) for n in args.sizes.split(",")):
        result = measure(rows, args.big_runs if rows >= 100_000 else args.runs)
        stage = result["pipeline"]
        print(f"{rows:>8,} {result['mb']:>8.1f} {result['runs']:>4} {result['openpyxl']:>11.2f} "
              f"{stage['total']:>11.2f} {stage['total'] / result['openpyxl']:>6.2f} "
              f"{stage['receive']:>8.2f} {stage['validate']:>9.2f} {stage['commit_sync']:>12.2f} "
              f"{result['rss']:>15.0f}", flush=True)
    print(f"(work files in {WORK})")


if __name__ == "__main__":
    main()
