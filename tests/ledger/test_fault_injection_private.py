"""bench/fault_injection.py stops, restarts and empties its servers: by default they must be
its own (hole 13), never the shared PostgreSQL other people's tests use."""
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from conftest import PG_ADMIN_URL
from conftest import ROOT
from conftest import missing_service

pytestmark = pytest.mark.slow

HARNESS = """
import bench.fault_injection as fi
h = fi.Harness(fi.parse([]))
print(h.db_url)
h.close()
"""


def test_the_fault_script_uses_a_private_postgresql_unless_told_otherwise():
    if os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode:
        missing_service("a 'postgres' user to run a private PostgreSQL as")
    env = {k: v for k, v in os.environ.items() if k != "BENCH_PG_URL"}
    env["PYTHONPATH"] = str(ROOT)
    run = subprocess.run([sys.executable, "-c", HARNESS], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    url = run.stdout.strip().splitlines()[-1]
    shared = sa.engine.make_url(PG_ADMIN_URL)
    used = sa.engine.make_url(url)
    assert (used.host, used.port) != (shared.host, shared.port or 5432)
