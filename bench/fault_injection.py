"""Fault injection: kill, stop and empty the moving parts and count what is lost.

Runs the real consumer (`huey_consumer huey_app.huey`), the web app under gunicorn, a
private redis-server (so it can be stopped and restarted empty) and a private
PostgreSQL server (`initdb` into a temporary directory, see bench/private_services.py),
and prints one row per scenario: jobs, completed, duplicate effects, lost, stuck,
seconds to recover. It never creates or drops a database on a shared server unless told
to with `--pg-url` (or BENCH_PG_URL): then it creates, and at the end drops, one database
named paydash_faults_<random> there.

Jobs are `diagnostic_probe` tasks created through the outbox path the upload endpoint
uses (`jobs.create_job` + `jobs.commit_and_dispatch`), from this process. Each probe
upserts one effect row per key and counts the executions that reached it, so
"duplicate effects" = executions - distinct keys, measured, not assumed.

    .venv/bin/python bench/fault_injection.py --quick
    .venv/bin/python bench/fault_injection.py                # the full issue-4 run
    .venv/bin/python bench/fault_injection.py --scenarios kill9,empty --kill-jobs 300
"""
import argparse
import os
import pathlib
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import sqlalchemy as sa

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = pathlib.Path(tempfile.mkdtemp(prefix="paydash-faults-"))
os.environ["PAYDASH_INSTANCE"] = str(WORK / "instance")
for name in ("DATABASE_URL", "REDIS_URL"):
    os.environ.pop(name, None)

from app import create_app  # noqa: E402
from bench.private_services import PrivatePostgres  # noqa: E402
from bench.private_services import PrivateRedis  # noqa: E402
from paydash.extensions import db  # noqa: E402
from paydash.ledger import jobs  # noqa: E402
from paydash.ledger.models import Job  # noqa: E402
from paydash.ledger.models import JobState  # noqa: E402
from tasks.diagnostics import ensure_probe_table  # noqa: E402
from tasks.diagnostics import probe_effect  # noqa: E402

SECRET = "fault-injection-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A subprocess in its own process group, so a signal reaches its children too."""

    def __init__(self, cmd: list[str], env: dict, log_name: str):
        self.cmd, self.env, self.log_name = cmd, env, log_name
        self.proc = None

    def start(self):
        log = open(WORK / self.log_name, "ab")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def send(self, sig):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self, sig=signal.SIGTERM, wait: float = 30):
        self.send(sig)
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            self.proc.wait(10)


class Harness:
    def __init__(self, opts):
        self.opts = opts
        self.scratch = pathlib.Path(tempfile.mkdtemp(prefix="scenario-", dir=WORK))
        self.pg, self.db_name = None, None
        if opts.pg_url:  # Told to use a shared server: one database of our own on it.
            self.db_name = f"paydash_faults_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(opts.pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self.db_name}"'))
            admin.dispose()
            self.db_url = opts.pg_url.rsplit("/", 1)[0] + "/" + self.db_name
        else:
            self.pg = PrivatePostgres(self.scratch, port=free_port()).init().start()
            self.db_url = self.pg.url
        self.redis = PrivateRedis(self.scratch, port=free_port())
        self.redis.start()
        self.config = {"SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": self.db_url,
                       "REDIS_URL": self.redis.url, "HUEY_NAME": "faults",
                       "PROBE_RETRIES": opts.retries, "PROBE_RETRY_DELAY": 1,
                       "LEASE_SECONDS": opts.lease, "ENQUEUE_GRACE_SECONDS": opts.grace}
        self.app = create_app(self.config)
        with self.app.app_context():
            db.create_all()
            ensure_probe_table()
        self.env = dict(os.environ, SECRET_KEY=SECRET, DATABASE_URL=self.db_url,
                        REDIS_URL=self.redis.url, HUEY_NAME="faults", PYTHONPATH=str(ROOT),
                        WORKERS=str(opts.workers), WORKER_TYPE=opts.worker_type,
                        HEARTBEAT_INTERVAL=str(opts.heartbeat), LEASE_SECONDS=str(opts.lease),
                        ENQUEUE_GRACE_SECONDS=str(opts.grace))
        self.consumer = None
        self.consumer_starts = 0
        self.web = None

    def start_consumer(self):
        self.consumer_starts += 1
        cmd = [sys.executable, "-m", "huey.bin.huey_consumer", "huey_app.huey",
               "-w", str(self.opts.workers), "-k", self.opts.worker_type, "-d", "0.05",
               "-m", "0.5", "--graceful-signal", "TERM",
               "--shutdown-timeout", str(self.opts.shutdown_timeout)]
        self.consumer = Process(cmd, self.env, "consumer.log").start()

    def start_web(self):
        self.web_port = free_port()
        cmd = [sys.executable, "-m", "gunicorn", "app:app", "--bind",
               f"127.0.0.1:{self.web_port}", "--workers", "2", "--threads", "4"]
        self.web = Process(cmd, self.env, "web.log").start()

    def web_status(self, path="/healthz") -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}{path}", timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def create(self, prefix: str, count: int, seconds: float) -> list[str]:
        with self.app.app_context():
            ids = []
            for i in range(count):
                job = jobs.create_job("diagnostic_probe", args=(f"{prefix}-{i}", seconds))
                jobs.commit_and_dispatch(job)
                ids.append(job.id)
            return ids

    def counts(self, prefix: str, ids: list[str]) -> dict:
        with self.app.app_context():
            states = dict(db.session.execute(
                sa.select(Job.state, sa.func.count()).where(Job.id.in_(ids))
                .group_by(Job.state)).all())
            effects, executions = db.session.execute(sa.select(
                sa.func.count(), sa.func.coalesce(sa.func.sum(probe_effect.c.executions), 0))
                .where(probe_effect.c.key.like(f"{prefix}-%"))).one()
            db.session.remove()
        return {"states": states, "effects": int(effects), "executions": int(executions)}

    def wait_done(self, prefix: str, ids: list[str], timeout: float) -> float | None:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.counts(prefix, ids)["states"].get(JobState.SUCCESS.value, 0) == len(ids):
                return time.monotonic() - start
            time.sleep(0.5)
        return None

    def close(self):
        for proc in (self.consumer, self.web):
            if proc:
                proc.stop(signal.SIGKILL, 5)
        self.redis.stop()
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()
        if self.pg:
            self.pg.remove()
            return
        admin = sa.create_engine(self.opts.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :n"), {"n": self.db_name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.db_name}"'))
        admin.dispose()


def row(h: Harness, name: str, prefix: str, ids: list[str], recover: float | None,
        note: str = "") -> dict:
    c = h.counts(prefix, ids)
    done = c["states"].get(JobState.SUCCESS.value, 0)
    return {"scenario": name, "jobs": len(ids), "completed": done,
            "duplicate effects": c["executions"] - c["effects"],
            "effects/executions": f"{c['effects']}/{c['executions']}",
            "lost": len(ids) - done - c["states"].get(JobState.STARTED.value, 0),
            "stuck": c["states"].get(JobState.STARTED.value, 0),
            "s to recover": "timeout" if recover is None else f"{recover:.1f}", "note": note}


def kill9(h: Harness, o) -> dict:
    ids = h.create("kill9", o.kill_jobs, o.kill_job_seconds)
    h.start_consumer()
    for _ in range(o.kills):
        time.sleep(random.uniform(o.kill_gap * 0.5, o.kill_gap * 1.5))
        h.consumer.send(signal.SIGKILL)
        h.consumer.proc.wait(10)
        h.start_consumer()
    recover = h.wait_done("kill9", ids, o.timeout)
    return row(h, f"kill -9 x{o.kills} ({o.worker_type} x{o.workers})", "kill9", ids, recover)


def term_then_kill(h: Harness, o) -> dict:
    ids = h.create("term", o.term_jobs, o.term_job_seconds)
    h.start_consumer()
    escalated = 0
    for _ in range(o.term_cycles):
        time.sleep(random.uniform(o.term_gap * 0.5, o.term_gap * 1.5))
        h.consumer.send(signal.SIGTERM)
        try:
            h.consumer.proc.wait(o.term_kill_after)
        except subprocess.TimeoutExpired:
            escalated += 1
            h.consumer.send(signal.SIGKILL)
            h.consumer.proc.wait(10)
        h.start_consumer()
    recover = h.wait_done("term", ids, o.timeout)
    return row(h, f"SIGTERM, SIGKILL {o.term_kill_after:.0f} s later x{o.term_cycles}",
               "term", ids, recover, f"{escalated} needed SIGKILL")


def redis_outage(h: Harness, o) -> dict:
    h.start_consumer()
    h.start_web()
    ids, refused, health = [], 0, {}
    outage_at = o.outage_jobs / o.rate / 3
    start, stopped_at, back_at = time.monotonic(), None, None
    for i in range(o.outage_jobs):
        now = time.monotonic() - start
        if stopped_at is None and now >= outage_at:
            h.redis.stop()
            stopped_at = time.monotonic()
        if stopped_at and back_at is None and time.monotonic() - stopped_at >= o.outage_seconds:
            h.redis.start()
            back_at = time.monotonic()
        try:
            ids += h.create(f"outage-{i}", 1, o.outage_job_seconds)
        except Exception:  # A refusal would be an HTTP 503; count it.
            refused += 1
        if i % 10 == 0:
            code = h.web_status()
            health[code] = health.get(code, 0) + 1
        time.sleep(max(0.0, (i + 1) / o.rate - (time.monotonic() - start)))
    if back_at is None:
        time.sleep(max(0.0, o.outage_seconds - (time.monotonic() - stopped_at)))
        h.redis.start()
        back_at = time.monotonic()
    recover = h.wait_done("outage", ids, o.timeout)
    drained = None if recover is None else time.monotonic() - back_at
    return row(h, f"Redis down {o.outage_seconds:.0f} s during {o.outage_jobs} creates at "
                  f"{o.rate:.0f}/s", "outage", ids, drained,
               f"{refused} refused; /healthz codes {health}")


def redis_empty(h: Harness, o) -> dict:
    ids = h.create("empty", o.empty_jobs, 0.1)
    h.redis.stop()
    h.redis.start()
    back = time.monotonic()
    h.start_consumer()
    recover = h.wait_done("empty", ids, o.timeout)
    return row(h, f"Redis restarted empty, {o.empty_jobs} pending", "empty", ids,
               None if recover is None else time.monotonic() - back)


SCENARIOS = {"kill9": kill9, "term": term_then_kill, "outage": redis_outage, "empty": redis_empty}


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="seconds-long versions of each scenario")
    p.add_argument("--scenarios", default="kill9,term,outage,empty")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL"),
                   help="use this (shared) PostgreSQL server instead of a private one: one "
                        "database is created on it and dropped at the end")
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--worker-type", default="thread", choices=["thread", "process"])
    p.add_argument("--heartbeat", type=float, default=2)
    p.add_argument("--lease", type=float, default=10)
    p.add_argument("--grace", type=float, default=10)
    p.add_argument("--retries", type=int, default=20)
    p.add_argument("--shutdown-timeout", type=float, default=20)
    p.add_argument("--timeout", type=float, default=900, help="per scenario, to finish")
    p.add_argument("--kill-jobs", type=int, default=1000)
    p.add_argument("--kill-job-seconds", type=float, default=3)
    p.add_argument("--kills", type=int, default=12)
    p.add_argument("--kill-gap", type=float, default=12)
    p.add_argument("--term-jobs", type=int, default=300)
    p.add_argument("--term-job-seconds", type=float, default=20)
    p.add_argument("--term-cycles", type=int, default=20)
    p.add_argument("--term-gap", type=float, default=15)
    p.add_argument("--term-kill-after", type=float, default=30)
    p.add_argument("--outage-jobs", type=int, default=500)
    p.add_argument("--outage-job-seconds", type=float, default=0.5)
    p.add_argument("--rate", type=float, default=10)
    p.add_argument("--outage-seconds", type=float, default=60)
    p.add_argument("--empty-jobs", type=int, default=200)
    o = p.parse_args(argv)
    if o.quick:
        o.workers, o.kill_jobs, o.kill_job_seconds, o.kills, o.kill_gap = 8, 120, 1, 4, 4
        o.term_jobs, o.term_job_seconds, o.term_cycles, o.term_gap = 24, 6, 3, 5
        o.shutdown_timeout, o.term_kill_after = 3, 10
        o.outage_jobs, o.outage_seconds, o.empty_jobs, o.timeout = 100, 8, 50, 180
    return o


def main(argv=None) -> int:
    o = parse(argv)
    rows = []
    for name in o.scenarios.split(","):
        h = Harness(o)  # A fresh database, Redis and consumer per scenario.
        try:
            started = time.monotonic()
            rows.append(SCENARIOS[name](h, o) | {"wall s": f"{time.monotonic() - started:.0f}"})
            print(rows[-1], flush=True)
        finally:
            h.close()
    print_table(rows)
    print(f"logs: {WORK}")
    return 0 if all(r["completed"] == r["jobs"] and r["duplicate effects"] == 0 and not r["stuck"]
                    for r in rows) else 1


def print_table(rows: list[dict]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    print("| " + " | ".join(c.ljust(widths[c]) for c in cols) + " |")
    print("|" + "|".join("-" * (widths[c] + 2) for c in cols) + "|")
    for r in rows:
        print("| " + " | ".join(str(r[c]).ljust(widths[c]) for c in cols) + " |")


if __name__ == "__main__":
    sys.exit(main())
