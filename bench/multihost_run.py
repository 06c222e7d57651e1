"""The driver of bench/multihost.py, run on the `hr` host: services, load, faults, table."""
import datetime as dt
import glob
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import sqlalchemy as sa

from bench.multihost import PASSWORD
from bench.multihost import ROOT
from bench.multihost import SECRET
from bench.multihost import VENV_BIN
from bench.multihost import Ticker
from bench.multihost import wait_until
from bench.multihost_load import COMMIT_TASK
from bench.multihost_load import EFFECT_TRIGGERS
from bench.multihost_load import TERMINAL
from bench.multihost_load import HRClient
from bench.multihost_load import measure
from bench.multihost_load import salary_sheet
from bench.multihost_net import Network
from bench.private_services import PrivatePostgres
from bench.private_services import PrivateRedis


def faketime_library() -> str:
    """libfaketime's shared object (Debian's `faketime` package), to shift one host's clock."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        raise RuntimeError("the clock skew scenario needs libfaketime (apt install faketime)")
    return found[0]


class Cluster:
    """The data host's servers, the web host's gunicorn and the worker hosts' consumers."""

    def __init__(self, o, net: Network, work: pathlib.Path):
        self.o, self.net, self.work = o, net, work
        data = net.address("data")
        self.pg = PrivatePostgres(work / "data", host=data, port=5432, prefix=net.prefix("data"))
        self.redis = PrivateRedis(work / "data", host=data, port=6379, prefix=net.prefix("data"))
        self.web_url = f"http://{net.address('web')}:8000"
        self.procs: dict[str, subprocess.Popen] = {}
        self.worker_ids: dict[str, set[str]] = {"w1": set(), "w2": set()}
        self.notes: list[str] = []  # What the current scenario's table row should say.
        self.env = dict(
            os.environ, SECRET_KEY=SECRET, PAYDASH_ENV="production",
            DATABASE_URL=f"postgresql://postgres@{data}:5432/paydash",
            REDIS_URL=f"redis://{data}:6379/0", HUEY_NAME="multihost", PYTHONPATH=str(ROOT),
            LEASE_SECONDS=str(o.lease), HEARTBEAT_INTERVAL=str(o.heartbeat),
            ENQUEUE_GRACE_SECONDS=str(o.grace), WORKERS=str(o.workers),
            PAYDASH_INSTANCE=str(work / "instance"), IMPORT_RETRY_DELAY="1",
            CHART_SYNC_RETRY_DELAY="1",
            # A production build, but HR's driver talks plain HTTP to gunicorn (no TLS proxy
            # here): Secure cookies would never come back, and every sign-in would lose its
            # CSRF session (400). The driver signs in once per tenant and scenario, all from
            # the one hr host, so the per-address limit is raised too.
            SESSION_COOKIE_SECURE="false", HSTS="false",
            LOGIN_LIMIT_PER_ACCOUNT="1000 per 15 minutes", LOGIN_LIMIT_PER_ADDRESS="1000 per 15 minutes",
            PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
        self.env.update(kv.split("=", 1) for kv in o.env)
        self.engine = None

    def start(self) -> None:
        self.pg.init().start()
        self.redis.start()
        self.engine = sa.create_engine(self.pg.url, pool_pre_ping=True, pool_size=4,
                                       connect_args={"connect_timeout": 3})
        self.run_on("web", [str(VENV_BIN / "flask"), "--app", "app", "db", "upgrade"], "migrate")
        self.pg.psql(EFFECT_TRIGGERS, database="paydash")
        self.start_web()

    def run_on(self, host: str, cmd: list[str], log: str) -> None:
        with open(self.work / f"{log}.log", "ab") as out:
            subprocess.run(self.net.prefix(host) + cmd, cwd=ROOT, env=self.env, check=True,
                           stdout=out, stderr=subprocess.STDOUT)

    def spawn(self, name: str, host: str, cmd: list[str], env: dict | None = None) -> None:
        out = open(self.work / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(self.net.prefix(host) + cmd, cwd=ROOT,
                                            env=env or self.env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def start_web(self) -> None:
        self.spawn("web", "web", [str(VENV_BIN / "gunicorn"), "app:app", "--bind",
                                  f"{self.net.address('web')}:8000", "--workers", "2",
                                  "--threads", "4", "--timeout", "60"])
        if not wait_until(lambda: self._web_up(), 60, 0.5):
            raise RuntimeError(f"gunicorn did not answer; see {self.work / 'web.log'}")

    def _web_up(self) -> bool:
        try:
            with urllib.request.urlopen(self.web_url + "/login", timeout=2):
                return True
        except OSError:
            return False

    def start_worker(self, host: str, hostname: str, skew: int = 0) -> None:
        """`huey_consumer` as PID 1 of a new PID namespace, with its own hostname (and clock)."""
        before = self.worker_rows()
        env = dict(self.env)
        if skew:
            # libfaketime preloaded directly: the `faketime` wrapper names a semaphore after
            # its PID, and both consumers are PID 1 of their own PID namespace.
            env.update(LD_PRELOAD=faketime_library(), FAKETIME=f"{skew:+d}",
                       FAKETIME_DONT_FAKE_MONOTONIC="1")
        self.spawn(host, host, ["unshare", "--uts", "--pid", "--fork", "--mount-proc", "sh", "-c",
                                'hostname "$0" && exec "$@"', hostname,
                                str(VENV_BIN / "huey_consumer"), "huey_app.huey",
                                "--workers", str(self.o.workers), "--worker-type", "thread",
                                "--delay", "0.05", "--max-delay", "0.1", "--backoff", "1.2",
                                "--graceful-signal", "TERM", "--shutdown-timeout", "5"], env)
        new = wait_until(lambda: self.worker_rows() - before, 30, 0.25)
        if new:
            self.worker_ids[host] = {worker_id for worker_id, _started in new}
            return
        # No row of its own: it took over another consumer's row (the same "host:pid").
        with self.engine.connect() as conn:
            shared = set(conn.scalars(sa.text("SELECT id FROM worker WHERE host = :h "
                                              "AND stopped_at IS NULL"), {"h": hostname}))
        if not shared:
            raise RuntimeError(f"the consumer on {host} did not register; see {host}.log")
        self.worker_ids[host] = shared
        note = f"{host} shares Worker row {', '.join(sorted(shared))}"
        if note not in self.notes:
            self.notes.append(note)

    def stop_worker(self, host: str) -> None:
        self.net.heal(host)
        self.net.signal_host(host, signal.SIGCONT)
        self.net.signal_host(host, signal.SIGTERM)
        if not wait_until(lambda: not self.net.pids(host), 15, 0.25):
            self.net.signal_host(host, signal.SIGKILL)
            wait_until(lambda: not self.net.pids(host), 10, 0.1)
        proc = self.procs.pop(host, None)
        if proc:
            proc.wait(10)

    def worker_rows(self) -> set[tuple]:
        """(id, started_at) of every Worker row: a restart under a reused id is new too."""
        with self.engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT id, started_at FROM worker")).all())

    def db_now(self) -> dt.datetime:
        with self.engine.connect() as conn:
            return conn.scalar(sa.text("SELECT clock_timestamp()"))

    def make_tenant(self, slug: str) -> tuple[int, str]:
        email = f"hr@{slug}.test"
        self.run_on("web", [str(VENV_BIN / "flask"), "--app", "app", "create-tenant", slug,
                            "--slug", slug], "cli")
        self.run_on("web", [str(VENV_BIN / "flask"), "--app", "app", "create-user", email,
                            "--tenant", slug, "--password", PASSWORD], "cli")
        with self.engine.connect() as conn:
            return conn.scalar(sa.text("SELECT id FROM tenant WHERE slug = :s"), {"s": slug}), email

    def close(self) -> None:
        for name, proc in list(self.procs.items()):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for host in ("w1", "w2", "web"):
            self.net.signal_host(host, signal.SIGCONT)
            self.net.signal_host(host, signal.SIGKILL)
        if self.engine:
            self.engine.dispose()
        self.redis.stop()
        self.pg.stop("immediate")


class Load:
    """HR's month, for several tenants at once: uploads with confirm, then browser saves."""

    def __init__(self, cluster: Cluster, name: str, o):
        self.c, self.o = cluster, o
        self.tenants: list[int] = []
        self.expected: dict[tuple, int] = {}
        self.errors: list[str] = []
        self.retried = 0
        self.threads = []
        self.lock = threading.Lock()
        for i in range(o.tenants):
            tenant, email = cluster.make_tenant(f"{name}-{i}")
            self.tenants.append(tenant)
            self.threads.append(threading.Thread(target=self._hr, args=(i, tenant, email),
                                                 daemon=True))

    def start(self) -> "Load":
        self.started = time.monotonic()
        for t in self.threads:
            t.start()
        return self

    def _hr(self, i: int, tenant: int, email: str) -> None:
        hr = HRClient(self.c.web_url)
        try:
            hr.login(email, PASSWORD)
            uploads = []
            for m in range(1, self.o.uploads + 1):
                uploads.append(hr.upload(2026, m, salary_sheet(self.o.rows, seed=i * 12 + m)))
            for upload_id in uploads:
                self._wait_upload(upload_id, ("preview",))
                hr.confirm(upload_id)
            for upload_id, m in zip(uploads, range(1, self.o.uploads + 1)):
                if self._wait_upload(upload_id, ("confirmed",)):
                    self._count(tenant, m)
            for m in range(self.o.uploads + 1, self.o.uploads + self.o.saves + 1):
                status, body = hr.save_month(2026, m)
                if status == 202:
                    self._count(tenant, m)
                else:
                    self.errors.append(f"save {tenant} 2026-{m}: {status} {body}")
        except Exception as exc:  # Reported in the table's note; the run goes on.
            self.errors.append(f"tenant {tenant}: {exc!r}")
        finally:
            with self.lock:
                self.retried += hr.retried

    def _count(self, tenant: int, month: int) -> None:
        with self.lock:
            key = (tenant, 2026, month)
            self.expected[key] = self.expected.get(key, 0) + 1

    def _wait_upload(self, upload_id: int, states: tuple) -> bool:
        def reached():
            try:
                with self.c.engine.connect() as conn:
                    return conn.scalar(sa.text("SELECT status FROM upload WHERE id = :i"),
                                       {"i": upload_id}) in states
            except sa.exc.OperationalError:
                return False
        if wait_until(reached, self.o.timeout, 0.3):
            return True
        self.errors.append(f"upload {upload_id} never reached {states}")
        return False

    def finish(self) -> float:
        """Wait for HR's threads and every job of these tenants; seconds since the start."""
        deadline = time.monotonic() + self.o.timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))

        def settled():
            try:
                with self.c.engine.connect() as conn:
                    return not conn.scalar(sa.text(
                        "SELECT count(*) FROM job WHERE tenant_id = ANY(:t) "
                        "AND state <> ALL(:done)"), {"t": self.tenants, "done": list(TERMINAL)})
            except sa.exc.OperationalError:
                return False
        wait_until(settled, max(1.0, deadline - time.monotonic()), 0.5)
        return time.monotonic() - self.started

    def running_on(self, ids: set[str], task: str | None = None) -> list[tuple]:
        with self.c.engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT id, attempts FROM job WHERE tenant_id = ANY(:t) AND state = 'STARTED' "
                "AND worker_id = ANY(:w) AND task_name LIKE :task"),
                {"t": self.tenants, "w": list(ids), "task": f"%{task or ''}"}).all()

    def unfinished(self) -> list[tuple]:
        with self.c.engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT id, attempts FROM job WHERE tenant_id = ANY(:t) AND state <> ALL(:d)"),
                {"t": self.tenants, "d": list(TERMINAL)}).all()


class Takeover:
    """Watches the jobs a fault caught until each runs again on another worker, or is done."""

    def __init__(self, cluster: Cluster, caught: list[tuple], lost_ids: set[str]):
        self.c = cluster
        self.attempts = dict(caught)
        self.lost_ids = lost_ids
        self.since: float | None = None
        self.seen: dict[str, float] = {}
        self.ticker = Ticker(self._step)

    def start(self, since: float | None = None) -> "Takeover":
        self.since = since or time.monotonic()
        self.ticker.start()
        return self

    def _step(self) -> bool:
        pending = [j for j in self.attempts if j not in self.seen]
        if not pending:
            return True
        with self.c.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT id, state, attempts, worker_id FROM job WHERE id = ANY(:i)"),
                {"i": pending}).all()
        now = time.monotonic()
        for job_id, state, attempts, worker in rows:
            if state in TERMINAL or (state == "STARTED" and attempts > self.attempts[job_id]
                                     and worker not in self.lost_ids):
                self.seen[job_id] = now - self.since
        return False

    def wait(self, timeout: float) -> float | None:
        wait_until(lambda: len(self.seen) == len(self.attempts), timeout, 0.25)
        self.ticker.stopped.set()
        if not self.attempts:
            return None
        return max(self.seen.values()) if len(self.seen) == len(self.attempts) else float("inf")


# --- Scenarios: each returns (takeover seconds or None, note) ---------------------------------


def wait_commit_on(load: Load, host: str, timeout: float) -> list[tuple]:
    """Wait until a commit of salary rows runs on `host` (else, after a while, any job);
    then every job running there."""
    ids = load.c.worker_ids[host]
    if not wait_until(lambda: load.running_on(ids, COMMIT_TASK), timeout / 2, 0.1):
        wait_until(lambda: load.running_on(ids), timeout / 2, 0.1)
    return load.running_on(ids)


def cut_and_heal(load: Load, o) -> tuple:
    caught = wait_commit_on(load, "w1", o.timeout)
    load.c.net.cut("w1")
    watch = Takeover(load.c, caught, load.c.worker_ids["w1"]).start()
    took = watch.wait(o.lease + 180)
    load.c.net.heal("w1")
    return took, f"{len(caught)} jobs on w1 when cut; healed after takeover"


def dead_host(load: Load, o) -> tuple:
    caught = wait_commit_on(load, "w1", o.timeout)
    load.c.net.cut("w1")  # The power goes: no FIN, no RST, nothing more from this host.
    load.c.net.signal_host("w1", signal.SIGKILL)
    watch = Takeover(load.c, caught, load.c.worker_ids["w1"]).start()
    return watch.wait(o.lease + 180), f"{len(caught)} jobs on w1 when it died"


def frozen(load: Load, o) -> tuple:
    caught = wait_commit_on(load, "w1", o.timeout)
    load.c.net.signal_host("w1", signal.SIGSTOP)
    watch = Takeover(load.c, caught, load.c.worker_ids["w1"]).start()
    took = watch.wait(o.lease + 180)
    load.c.net.signal_host("w1", signal.SIGCONT)
    return took, f"{len(caught)} jobs on w1 when stopped; SIGCONT after takeover"


def same_name(load: Load, o) -> tuple:
    """Both hosts are called "vm" and both consumers are PID 1; w2 is killed and restarted."""
    caught = wait_commit_on(load, "w2", o.timeout)
    lost = set(load.c.worker_ids["w2"])
    load.c.net.signal_host("w2", signal.SIGKILL)
    wait_until(lambda: not load.c.net.pids("w2"), 10, 0.1)
    load.c.procs.pop("w2", None)
    watch = Takeover(load.c, caught, lost).start()
    load.c.start_worker("w2", "vm")
    return watch.wait(o.lease + 180), f"w2 killed and restarted with {len(caught)} jobs"


def skewed(load: Load, o) -> tuple:
    return None, f"w1 clock {o.skew:+d} s, w2 clock {-o.skew:+d} s (libfaketime)"


def redis_wiped(load: Load, o) -> tuple:
    """Jobs waiting in Redis when it is wiped. Both consumers were paused before HR began
    (nothing runs, so nothing is taken over) and are let go right after the FLUSHALL.

    "Waiting in Redis" is read from Redis itself (the queue's messages carry the job ids):
    the ledger alone cannot tell, as a claim may be written a moment late."""
    def queued():
        messages = load.c.redis.cli("ZRANGE", f"huey.redis.{load.c.env['HUEY_NAME']}", "0", "-1")
        return [job for job in load.unfinished() if job[0] in messages]
    wait_until(lambda: len(queued()) >= 3, 30, 0.2)
    caught = queued()
    load.c.redis.cli("FLUSHALL")
    for host in ("w1", "w2"):
        load.c.net.signal_host(host, signal.SIGCONT)
    watch = Takeover(load.c, caught, set()).start()
    return watch.wait(o.grace + 180), f"FLUSHALL with {len(caught)} jobs waiting in Redis"


def pg_restart(load: Load, o) -> tuple:
    wait_until(lambda: load.running_on(load.c.worker_ids["w1"] | load.c.worker_ids["w2"],
                                       COMMIT_TASK), o.timeout, 0.1)
    caught = load.unfinished()
    load.c.pg.restart("fast")
    watch = Takeover(load.c, caught, set()).start()
    return watch.wait(o.lease + 180), f"restarted (fast) with {len(caught)} jobs unfinished"


FAULTS = {"one-host": None, "two-hosts": None, "cut": cut_and_heal, "dead": dead_host,
          "frozen": frozen, "same-name": same_name, "skew": skewed,
          "redis-wiped": redis_wiped, "pg-restart": pg_restart}
LABELS = {"one-host": "no fault, one worker host", "two-hosts": "no fault, two worker hosts",
          "cut": "w1 cut mid-commit, healed", "dead": "w1 dead mid-commit, never back",
          "frozen": "w1 consumer SIGSTOP, SIGCONT later",
          "same-name": "same hostname and PID, w2 restarted", "skew": "clock skew ±5 min",
          "redis-wiped": "Redis FLUSHALL", "pg-restart": "PostgreSQL restarted"}


def scenario(c: Cluster, name: str, o) -> dict:
    names = {"w1": "worker-1", "w2": "worker-2"}
    if name == "same-name":
        names = {"w1": "vm", "w2": "vm"}
    skew = {"w1": o.skew, "w2": -o.skew} if name == "skew" else {"w1": 0, "w2": 0}
    hosts = ["w1"] if name == "one-host" else ["w1", "w2"]
    c.notes = []
    for host in hosts:
        c.start_worker(host, names[host], skew[host])
    load = Load(c, name, o)
    if name == "redis-wiped":
        for host in hosts:
            c.net.signal_host(host, signal.SIGSTOP)
    load.start()
    took, note = (None, "")
    if FAULTS[name]:
        took, note = FAULTS[name](load, o)
    seconds = load.finish()
    for host in hosts:
        c.stop_worker(host)
    m = measure(c.engine, load.tenants, o.rows, load.expected)
    done = m["states"].get("SUCCESS", 0)
    stuck = m["jobs"] - done - m["states"].get("FAILURE", 0) - m["states"].get("REVOKED", 0)
    lost = m["states"].get("FAILURE", 0) + m["states"].get("REVOKED", 0) + m["missing effects"]
    notes = ([note] if note else []) + c.notes
    if m["wrong row counts"]:
        notes.append(f"{m['wrong row counts']} periods with a wrong row count")
    if load.retried:
        notes.append(f"HR sent {load.retried} requests again (503 or no answer)")
    notes += load.errors[:3]
    return {"scenario": LABELS[name], "jobs": m["jobs"], "completed": done,
            "duplicate effects": m["duplicates"], "lost": lost, "stuck": stuck,
            "takeover s": "-" if took is None else ("never" if took == float("inf")
                                                     else f"{took:.1f}"),
            "extra attempts": m["extra attempts"], "jobs/s": f"{m['jobs'] / seconds:.2f}",
            "note": "; ".join(notes)}


def drive(o, net: Network, work: pathlib.Path) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    c = Cluster(o, net, work)
    rows = []
    try:
        c.start()
        for name in o.scenarios.split(","):
            started = time.monotonic()
            rows.append(scenario(c, name, o) | {"wall s": f"{time.monotonic() - started:.0f}"})
            print(rows[-1], flush=True)
    finally:
        c.close()
        print_table(rows, o)
        if o.json:
            pathlib.Path(o.json).write_text(json.dumps({"lease": o.lease, "rows": rows}))
    good = all(r["completed"] == r["jobs"] and not r["duplicate effects"] and not r["lost"]
               and not r["stuck"] and (r["takeover s"] == "-" or (
                   r["takeover s"] != "never" and float(r["takeover s"]) <= o.lease + 15))
               for r in rows)
    return 0 if rows and good else 1


def print_table(rows: list[dict], o) -> None:
    print(f"\nlease {o.lease:g} s, heartbeat {o.heartbeat:g} s, {o.tenants} tenants x "
          f"({o.uploads} uploads + {o.saves} browser saves) of {o.rows} rows, "
          f"{o.workers} threads per consumer; target: takeover <= {o.lease + 15:g} s")
    if not rows:
        return
    cols = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in cols}
    print("| " + " | ".join(k.ljust(widths[k]) for k in cols) + " |")
    print("|" + "|".join("-" * (widths[k] + 2) for k in cols) + "|")
    for r in rows:
        print("| " + " | ".join(str(r[k]).ljust(widths[k]) for k in cols) + " |", flush=True)
