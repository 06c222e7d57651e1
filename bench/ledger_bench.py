"""The ledger's cost: N no-op tasks through huey_consumer with and without the ledger, and Celery.

Same run, same Redis; the ledger on a fresh PostgreSQL database. Each side gets its N
tasks queued first, then its workers are started, and the clock runs from the first
task leaving the queue until the last is done (ledger: every job SUCCESS in the ledger;
bare Huey and Celery, which record nothing: the queue drained, at most a handful of
no-op tasks still in flight).

    pip install -r bench/requirements.txt   # celery, for the comparison only
    python bench/ledger_bench.py --tasks 5000 --workers 4
"""
import argparse
import os
import pathlib
import signal
import subprocess
import sys
import time
import uuid

import redis
import sqlalchemy as sa

ROOT = pathlib.Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RUN = uuid.uuid4().hex[:8]
LEDGER_DB = f"paydash_ledger_bench_{RUN}"
LEDGER_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + LEDGER_DB
sys.path.insert(0, str(ROOT))


def start(cmd: list[str], env: dict, log: pathlib.Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def clock(n: int, queued, done, timeout: float = 300) -> float:
    """Seconds from the first task leaving the queue until `done()`."""
    deadline = time.monotonic() + timeout
    while queued() >= n:
        if time.monotonic() > deadline:
            raise RuntimeError("the workers never started")
        time.sleep(0.002)
    t0 = time.monotonic()
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError("the tasks did not finish in time")
        time.sleep(0.01)
    return time.monotonic() - t0


def huey_args(workers: int, worker_type: str) -> list[str]:
    return ["-w", str(workers), "-k", worker_type, "-d", "0.05", "-m", "0.5", "-b", "1.2"]


def bench_bare(n: int, workers: int, worker_type: str, logs: pathlib.Path) -> float:
    name = f"bench_bare_{RUN}_{worker_type}"
    os.environ["BENCH_HUEY_NAME"], os.environ["REDIS_URL"] = name, REDIS_URL
    from bench import bare_huey  # noqa: PLC0415  (reads its name from the environment)
    bare_huey.huey.name = name
    bare_huey.huey.storage = bare_huey.huey.create_storage()
    for _ in range(n):
        bare_huey.noop()
    proc = start([sys.executable, "-m", "huey.bin.huey_consumer", "bench.bare_huey.huey",
                  *huey_args(workers, worker_type)], {"BENCH_HUEY_NAME": name, "REDIS_URL": REDIS_URL},
                 logs / f"bare-{worker_type}.log")
    size = bare_huey.huey.storage.queue_size
    try:
        return clock(n, size, lambda: size() == 0)
    finally:
        stop(proc)
        bare_huey.huey.storage.flush_all()


def ledger_app():
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{LEDGER_DB}"'))
    admin.dispose()
    os.environ.update(DATABASE_URL=LEDGER_URL, REDIS_URL=REDIS_URL, SECRET_KEY="bench-secret",
                      HUEY_NAME=f"bench_ledger_{RUN}")
    from app import create_app  # noqa: PLC0415  (reads the environment set above)
    from paydash.extensions import db  # noqa: PLC0415
    app = create_app()
    with app.app_context():
        db.create_all()
    return app


def bench_ledger(app, n: int, workers: int, worker_type: str, logs: pathlib.Path) -> float:
    from paydash import jobs  # noqa: PLC0415
    from paydash.extensions import db  # noqa: PLC0415
    from paydash.models import Job  # noqa: PLC0415
    from paydash.models import JobState  # noqa: PLC0415
    name = f"bench_ledger_{RUN}_{worker_type}"
    app.config["HUEY_NAME"] = name
    from paydash.queue import configure_huey  # noqa: PLC0415
    configure_huey(app.extensions["huey"], app.config)
    with app.app_context():
        created = [jobs.create_job("noop", args=(0,)) for _ in range(n)]
        jobs.commit_and_dispatch(*created)
        db.session.expunge_all()

        def successes() -> int:
            db.session.rollback()
            return db.session.scalar(sa.select(sa.func.count()).where(
                Job.task_name == "noop", Job.state == JobState.SUCCESS.value))

        # Counted by task name, not by listing ids: the `id IN (5,000 ids)` count took
        # ~33 ms, so polling it kept a core of this 2-core box busy and slowed the very
        # workers it timed. The database is asked only once the queue is empty.
        target = successes() + n
        huey = app.extensions["huey"]
        env = {"DATABASE_URL": LEDGER_URL, "REDIS_URL": REDIS_URL, "SECRET_KEY": "bench-secret",
               "HUEY_NAME": name, "WORKERS": str(workers), "WORKER_TYPE": worker_type}
        proc = start([sys.executable, "-m", "huey.bin.huey_consumer", "huey_app.huey",
                      *huey_args(workers, worker_type)], env, logs / f"ledger-{worker_type}.log")

        def done() -> bool:
            return huey.storage.queue_size() == 0 and successes() >= target

        try:
            return clock(n, huey.storage.queue_size, done)
        finally:
            stop(proc)
            huey.storage.flush_all()


def bench_celery(n: int, workers: int, logs: pathlib.Path) -> float:
    queue = f"bench_celery_{RUN}"
    os.environ["BENCH_CELERY_QUEUE"], os.environ["REDIS_URL"] = queue, REDIS_URL
    from bench import celery_noop  # noqa: PLC0415  (reads its queue from the environment)
    celery_noop.app.conf.task_default_queue = queue
    for _ in range(n):
        celery_noop.noop.apply_async(queue=queue)
    client = redis.Redis.from_url(REDIS_URL)
    proc = start([sys.executable, "-m", "celery", "-A", "bench.celery_noop", "worker", "-c", str(workers),
                  "-P", "prefork", "-Q", queue, "--without-gossip", "--without-mingle",
                  "--without-heartbeat", "--loglevel", "WARNING"],
                 {"BENCH_CELERY_QUEUE": queue, "REDIS_URL": REDIS_URL}, logs / "celery.log")
    try:
        return clock(n, lambda: client.llen(queue), lambda: client.llen(queue) == 0)
    finally:
        stop(proc)
        client.delete(queue)


def drop_ledger_db() -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                     {"n": LEDGER_DB})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{LEDGER_DB}"'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--types", default="thread,process", help="Huey worker types to run")
    args = parser.parse_args()
    logs = pathlib.Path(os.environ.get("BENCH_LOGS", f"/tmp/ledger-bench-{RUN}"))
    logs.mkdir(parents=True, exist_ok=True)
    n, w = args.tasks, args.workers
    app = ledger_app()
    rates = {}
    try:
        for kind in args.types.split(","):
            rates[f"bare huey ({kind})"] = n / bench_bare(n, w, kind, logs)
            rates[f"paydash ledger ({kind})"] = n / bench_ledger(app, n, w, kind, logs)
        rates["celery (prefork)"] = n / bench_celery(n, w, logs)
    finally:
        drop_ledger_db()
    print(f"\n{n} no-op tasks, {w} workers, Redis broker, ledger on PostgreSQL (logs: {logs})")
    for label, rate in rates.items():
        print(f"  {label:28} {rate:8.0f} tasks/s")
    celery = rates["celery (prefork)"]
    for kind in args.types.split(","):
        ledger, bare = rates[f"paydash ledger ({kind})"], rates[f"bare huey ({kind})"]
        print(f"  {kind:8} ledger / bare huey = {ledger / bare:5.0%} (target >= 75%)   "
              f"ledger / celery = {ledger / celery:4.2f}x (target >= 1.5x)")


if __name__ == "__main__":
    main()
