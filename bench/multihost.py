"""Proof across hosts: a data host, a web host and two worker hosts on one machine, faulted.

As root, builds network namespaces on a private bridge (bench/multihost_net.py): `data`
runs its own PostgreSQL (initdb into a temporary directory) and redis-server, `web` runs
gunicorn (app:app), `w1` and `w2` each run `huey_consumer huey_app.huey` in their own UTS
and PID namespace, and `hr` is the HR user's machine, where this script's driver runs.
Traffic flows only between those namespaces. HR signs in, uploads .xlsx sheets and
confirms them, and saves payroll months in the browser, all over HTTP; each confirm and
save leads to a chart sync. Then one fault per scenario, and one table row each:

    scenario | jobs | completed | duplicate effects | lost | stuck | takeover s

Duplicate and missing effects are measured by triggers in the database (see
bench/multihost_load.py). Takeover is the time from the fault (or from the service's
return) until every job the fault caught is running again elsewhere or done, judged on
the database's clock by polling the ledger.

    sudo .venv/bin/python bench/multihost.py                     # every scenario
    sudo .venv/bin/python bench/multihost.py --short             # the suite's version
    sudo .venv/bin/python bench/multihost.py --scenarios cut,dead --lease 20

Everything (namespaces, processes, temporary directories) is removed on exit, on
failure and on Ctrl-C; `--keep-logs` keeps the directory with every host's log.
"""
import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.multihost_net import Network  # noqa: E402
from bench.multihost_net import leftover_namespaces  # noqa: E402
from bench.private_services import postgres_bin  # noqa: E402

HOSTS = {"data": 2, "web": 3, "w1": 11, "w2": 12, "hr": 20}
VENV_BIN = pathlib.Path(sys.executable).parent
SECRET = "multihost-secret"
PASSWORD = "multihost-pass-9"
SCENARIOS = ["one-host", "two-hosts", "cut", "dead", "frozen", "same-name", "skew",
             "redis-wiped", "pg-restart"]
SHORT = ["cut", "same-name", "redis-wiped"]


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenarios", default=None, help=f"default: {','.join(SCENARIOS)}")
    p.add_argument("--short", action="store_true",
                   help=f"the suite's version: {','.join(SHORT)} with a small load")
    p.add_argument("--tenants", type=int, default=3, help="HR users, one tenant each")
    p.add_argument("--uploads", type=int, default=3, help="months uploaded per tenant")
    p.add_argument("--saves", type=int, default=2, help="months saved in the browser per tenant")
    p.add_argument("--rows", type=int, default=3000, help="employees per sheet")
    p.add_argument("--workers", type=int, default=4, help="threads per consumer")
    p.add_argument("--lease", type=float, default=20)
    p.add_argument("--heartbeat", type=float, default=3)
    p.add_argument("--grace", type=float, default=15)
    p.add_argument("--skew", type=int, default=300, help="seconds (+ on w1, - on w2)")
    p.add_argument("--timeout", type=float, default=300, help="per scenario, to finish")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="more settings for every app process (repeatable)")
    p.add_argument("--keep-logs", action="store_true")
    p.add_argument("--json", default="", help="also write the table's rows to this file")
    p.add_argument("--inside", default="", help=argparse.SUPPRESS)
    p.add_argument("--work", default="", help=argparse.SUPPRESS)
    o = p.parse_args(argv)
    if o.short:
        o.scenarios = o.scenarios or ",".join(SHORT)
        o.tenants, o.uploads, o.saves, o.rows = 2, 2, 1, 1500
        o.lease, o.heartbeat, o.grace, o.timeout = 10, 2, 8, 120
    o.scenarios = o.scenarios or ",".join(SCENARIOS)
    return o


def missing_tools() -> list[str]:
    """What this machine lacks to run the script (empty when it can run)."""
    missing = [] if os.geteuid() == 0 else ["root"]
    for tool in ("ip", "unshare", "redis-server", "runuser"):
        if not shutil.which(tool):
            missing.append(tool)
    try:
        postgres_bin()
    except RuntimeError:
        missing.append("PostgreSQL server binaries")
    return missing


def main(argv=None) -> int:
    """Build the hosts, run the driver on `hr`, and tear everything down whatever happens."""
    o = parse(argv)
    if o.inside:
        from bench.multihost_run import drive  # noqa: PLC0415  (it imports this module)
        return drive(o, Network(o.inside, HOSTS), pathlib.Path(o.work))
    missing = missing_tools()
    if missing:
        print("multihost needs " + ", ".join(missing), file=sys.stderr)
        return 2
    for stale in leftover_namespaces():
        print(f"note: namespace {stale} is left from an earlier run", file=sys.stderr)
    tag = uuid.uuid4().hex[:4]
    work = pathlib.Path(tempfile.mkdtemp(prefix="paydash-multihost-"))
    work.chmod(0o755)
    net = Network(tag, HOSTS)
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    driver = None
    try:
        net.build()
        args = list(argv if argv is not None else sys.argv[1:])
        driver = subprocess.Popen(net.prefix("hr") + [sys.executable, str(pathlib.Path(__file__)),
                                                      *args, "--inside", tag, "--work", str(work)],
                                  cwd=ROOT)
        return driver.wait()
    except KeyboardInterrupt:
        print("interrupted: cleaning up", file=sys.stderr)
        return 130
    finally:
        if driver and driver.poll() is None:
            driver.send_signal(signal.SIGTERM)
            try:
                driver.wait(20)
            except subprocess.TimeoutExpired:
                driver.kill()
        net.destroy()
        signal.signal(signal.SIGTERM, previous)
        if o.keep_logs:
            print(f"logs: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def wait_until(predicate, timeout: float, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


class Ticker(threading.Thread):
    """Runs `step` every `interval` seconds until stopped (the takeover watch)."""

    def __init__(self, step, interval: float = 0.25):
        super().__init__(daemon=True)
        self.step, self.interval, self.stopped = step, interval, threading.Event()

    def run(self):
        while not self.stopped.wait(self.interval):
            try:
                if self.step():
                    return
            except Exception:  # The database may be down (the restart scenario): try again.
                continue


if __name__ == "__main__":
    sys.exit(main())
