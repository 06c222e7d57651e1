"""The ledger's cost: N no-op tasks through huey_consumer with and without the ledger, and Celery.

Same run, same Redis; the ledger on a fresh PostgreSQL database. Each side gets its N
tasks queued first, then its workers are started, and the clock runs from the first
task leaving the queue until the last is done (ledger: every job SUCCESS in the ledger;
bare Huey and Celery, which record nothing: the queue drained, at most a handful of
no-op tasks still in flight).

    pip install -r bench/requirements.txt   # celery, for the comparison only
    python bench/ledger_bench.py --tasks 5000 --workers 4 [--rounds 3] [--durable]

Two rates are printed: over the whole run, and after the first `--warmup` tasks (500)
have left the queue, when every worker process has started, built its app and opened its
connections; the second is the steady-state throughput. Each ledger run is checked
afterwards: every job SUCCESS after one attempt, with its PENDING, STARTED and SUCCESS
events. `--durable` adds runs of tasks that write their
claim before doing anything (`jobs.claim_now`), which is what tasks with effects pay;
their goal is at least Celery's rate, round by round. `--compare-with TREE` runs each
ledger side a second time with the consumer of another Paydash tree (`git archive` of an
older commit, with a `.venv` link), in the same rounds, before and after taking turns.
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
sys.path.insert(0, str(ROOT))
from bench import environment  # noqa: E402

REDIS_URL = environment.redis_url()
PG_ADMIN_URL = environment.database_url()
RUN = uuid.uuid4().hex[:8]
LEDGER_DB = f"paydash_ledger_bench_{RUN}"
LEDGER_URL = environment.sibling_database(LEDGER_DB)


def start(cmd: list[str], env: dict, log: pathlib.Path,
          root: pathlib.Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=root, env={**os.environ, "PYTHONPATH": str(root), **env},
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


WARMUP = 500  # Tasks left out of the steady-state clock (set by --warmup).


class Timing:
    """A run's clocks: from the first task leaving the queue, and after the warm-up."""

    def __init__(self, n: int, whole: float, steady: float):
        self.n, self.whole, self.steady = n, whole, steady

    def rates(self) -> tuple[float, float]:
        return self.n / self.whole, (self.n - WARMUP) / self.steady


def clock(n: int, queued, done, timeout: float = 300) -> Timing:
    """Seconds from the first task leaving the queue until `done()`, and from the moment
    WARMUP tasks have left it (every worker started, connections open) until `done()`."""
    deadline = time.monotonic() + timeout
    while queued() >= n:
        if time.monotonic() > deadline:
            raise RuntimeError("the workers never started")
        time.sleep(0.002)
    t0 = time.monotonic()
    while queued() > n - WARMUP:
        if time.monotonic() > deadline:
            raise RuntimeError("the tasks did not finish in time")
        time.sleep(0.002)
    t_warm = time.monotonic()
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError("the tasks did not finish in time")
        time.sleep(0.01)
    end = time.monotonic()
    return Timing(n, end - t0, end - t_warm)


def huey_args(workers: int, worker_type: str) -> list[str]:
    return ["-w", str(workers), "-k", worker_type, "-d", "0.05", "-m", "0.5", "-b", "1.2"]


def bench_bare(n: int, workers: int, worker_type: str, logs: pathlib.Path) -> Timing:
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


def bench_ledger(app, n: int, workers: int, worker_type: str, logs: pathlib.Path,
                 durable: bool = False, root: pathlib.Path = ROOT) -> Timing:
    """`root`: the tree whose consumer runs the tasks (`--compare-with`: an older Paydash,
    on the same database, queued by this one; the ledger's tables must be the same)."""
    from paydash.extensions import db  # noqa: PLC0415
    from paydash.ledger import jobs  # noqa: PLC0415
    from paydash.ledger.models import Job  # noqa: PLC0415
    from paydash.ledger.models import JobState  # noqa: PLC0415
    name = f"bench_ledger_{RUN}_{worker_type}_{uuid.uuid4().hex[:6]}"
    app.config["HUEY_NAME"] = name
    from paydash.ledger.queue import configure_huey  # noqa: PLC0415
    configure_huey(app.extensions["huey"], app.config)
    with app.app_context():
        created = [jobs.create_job("noop", args=(0, durable)) for _ in range(n)]
        ids = [job.id for job in created]
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
                      *huey_args(workers, worker_type)], env, logs / f"ledger-{worker_type}.log",
                     root=root)

        def done() -> bool:
            return huey.storage.queue_size() == 0 and successes() >= target

        try:
            seconds = clock(n, huey.storage.queue_size, done)
        finally:
            stop(proc)
            huey.storage.flush_all()
        check_ledger(ids)
        return seconds


def check_ledger(ids: list[str]) -> None:
    """Every job SUCCESS after one attempt, with its three events: fail the run otherwise."""
    from paydash.extensions import db  # noqa: PLC0415
    from paydash.ledger.models import Job  # noqa: PLC0415
    from paydash.ledger.models import JobEvent  # noqa: PLC0415
    db.session.rollback()
    jobs = db.session.execute(sa.select(Job.state, Job.attempts, sa.func.count())
                              .where(Job.id.in_(ids)).group_by(Job.state, Job.attempts)).all()
    events = db.session.execute(sa.select(JobEvent.state, sa.func.count())
                                .where(JobEvent.job_id.in_(ids)).group_by(JobEvent.state)).all()
    expected_events = {"PENDING": len(ids), "STARTED": len(ids), "SUCCESS": len(ids)}
    if [tuple(row) for row in jobs] != [("SUCCESS", 1, len(ids))] or dict(events) != expected_events:
        raise RuntimeError(f"ledger does not match: jobs {jobs}, events {events}")


def bench_celery(n: int, workers: int, logs: pathlib.Path) -> Timing:
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


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> None:
    global WARMUP
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--types", default="thread,process", help="Huey worker types to run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians reported")
    parser.add_argument("--warmup", type=int, default=WARMUP,
                        help="tasks left out of the steady-state rate (process start-up)")
    parser.add_argument("--durable", action="store_true",
                        help="also run tasks that write their claim first, as tasks with effects do")
    parser.add_argument("--compare-with", type=pathlib.Path, metavar="TREE",
                        help="also run each ledger side with the consumer of another Paydash tree "
                             "(e.g. a `git archive` of main), in the same rounds: before and after")
    args = parser.parse_args()
    WARMUP = args.warmup
    logs = pathlib.Path(os.environ.get("BENCH_LOGS", f"/tmp/ledger-bench-{RUN}"))
    logs.mkdir(parents=True, exist_ok=True)
    n, w, kinds = args.tasks, args.workers, args.types.split(",")
    app = ledger_app()
    whole: dict[str, list[float]] = {}
    steady: dict[str, list[float]] = {}

    def measure(label: str, timing: Timing) -> None:
        rate, steady_rate = timing.rates()
        whole.setdefault(label, []).append(rate)
        steady.setdefault(label, []).append(steady_rate)
        print(f"  round {len(whole[label])}: {label:43} {rate:8.0f} tasks/s whole run, "
              f"{steady_rate:8.0f} after warm-up", flush=True)

    trees = [("", ROOT)] + ([(" [before]", args.compare_with.resolve())] if args.compare_with else [])
    loads: list[float] = []
    try:
        for round_number in range(args.rounds):
            for kind in kinds:
                measure(f"bare huey ({kind})", bench_bare(n, w, kind, logs))
                # Before and after alternate within the round, each going first in turn.
                order = trees if round_number % 2 == 0 else trees[::-1]
                for suffix, root in order:
                    measure(f"paydash ledger ({kind}){suffix}",
                            bench_ledger(app, n, w, kind, logs, root=root))
                if args.durable:
                    for suffix, root in order:
                        measure(f"paydash ledger, durable ({kind}){suffix}",
                                bench_ledger(app, n, w, kind, logs, durable=True, root=root))
            measure("celery (prefork)", bench_celery(n, w, logs))
            loads.append(os.getloadavg()[0])
            print(f"  round {round_number + 1}: load average {loads[-1]:.2f}", flush=True)
    finally:
        drop_ledger_db()
    print(f"\n{n} no-op tasks, {w} workers, Redis broker, ledger on PostgreSQL, {args.rounds} "
          f"rounds (logs: {logs}); median tasks/s, whole run and after the first {WARMUP} tasks"
          + (f"; [before]: the consumer of {args.compare_with}" if args.compare_with else ""))
    print(f"  load average (1 min) after each round: {', '.join(f'{v:.2f}' for v in loads)}")
    for label in whole:
        print(f"  {label:43} {median(whole[label]):8.0f} {median(steady[label]):8.0f}   "
              f"(rounds after warm-up: {', '.join(f'{v:.0f}' for v in steady[label])})")
    for title, rates in (("whole run", whole), ("after warm-up", steady)):
        celery = median(rates["celery (prefork)"])
        for kind in kinds:
            bare = median(rates[f"bare huey ({kind})"])
            variants = [f"paydash ledger ({kind}){suffix}" for suffix, _ in trees] + (
                [f"paydash ledger, durable ({kind}){suffix}" for suffix, _ in trees]
                if args.durable else [])
            for label in variants:
                ledger = median(rates[label])
                goal = (("", " (target >= 1.0x in every round)") if "durable" in label
                        else (" (target >= 75%)", " (target >= 1.5x)"))
                rounds = ", ".join(f"{mine / theirs:.0%}" for mine, theirs
                                   in zip(rates[label], rates[f"bare huey ({kind})"]))
                against_celery = ", ".join(f"{mine / theirs:.2f}x" for mine, theirs
                                           in zip(rates[label], rates["celery (prefork)"]))
                print(f"  {title:13} {label:43} / bare huey = {ledger / bare:5.0%}{goal[0]}"
                      f"   / celery = {ledger / celery:4.2f}x{goal[1]}   (each round: {rounds};"
                      f" / celery: {against_celery})")


if __name__ == "__main__":
    main()
