"""Shared fixtures: the app on SQLite or PostgreSQL, signed-in clients, real services.

Real services (Redis, PostgreSQL, Chromium) are used where the behaviour lives there.
When one is missing on a laptop those tests skip with a message; under CI=true a
missing service fails the run instead.
"""
import contextlib
import functools
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash as _generate_password_hash
from werkzeug.serving import make_server

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

# Keep any app built from the environment (the consumer entry's, the bridge's) away from the developer's data.
_SESSION_DIR = pathlib.Path(os.environ.get("PYTEST_TMP", "/tmp")) / f"paydash-tests-{os.getpid()}"
_SESSION_DIR.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("PAYDASH_INSTANCE", str(_SESSION_DIR / "instance"))
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)

from paydash import accounts  # noqa: E402
from paydash.extensions import db  # noqa: E402
from paydash.models import Role  # noqa: E402

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "correct-horse-9"
IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def missing_service(what: str) -> None:
    """Skip on a laptop, fail under CI."""
    message = f"{what} is not available"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(message)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Databases and brokers -----------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'paydash.db'}"


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if not _port_open("127.0.0.1", 5432):
        missing_service("PostgreSQL at 127.0.0.1:5432")
    name = f"paydash_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def redis_queue():
    """A Redis URL and a queue name of this test's own; its keys are deleted afterwards."""
    if not _port_open("127.0.0.1", 6379):
        missing_service("Redis at 127.0.0.1:6379")
    import redis  # noqa: PLC0415
    name = f"paydash_t_{uuid.uuid4().hex[:10]}"
    yield REDIS_URL, name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"huey.*{name}*"):
        client.delete(key)


def base_config(tmp_path, database_url: str, **extra) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "HUEY_SQLITE_PATH": str(tmp_path / "huey.db"),
        "HUEY_NAME": f"paydash_t_{uuid.uuid4().hex[:10]}",
        "REDIS_URL": None,
        "HUEY_IMMEDIATE": False,
        "WTF_CSRF_ENABLED": False,
        # Issue 16: admins and operators must enrol in two-step sign-in before anything else;
        # tests of other behaviour sign them in with a password only (tests/web/test_twostep.py
        # covers the enforcement).
        "TWO_STEP_ENFORCED": False,
    }
    config.update(extra)
    return config


def make_app(config: dict):
    from paydash.factory import create_app  # noqa: PLC0415
    app = create_app(config)
    with app.app_context():
        db.create_all()
    return app


def dispose_app(app) -> None:
    """Close the app's sessions and pooled connections (SQLite files stay unlocked)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(tmp_path, sqlite_url):
    """The app on its own SQLite file with tasks run at once (immediate mode)."""
    app = make_app(base_config(tmp_path, sqlite_url, HUEY_IMMEDIATE=True))
    yield app
    dispose_app(app)


@pytest.fixture
def queued_app(tmp_path, sqlite_url):
    """The app with a real SQLite queue (tasks wait for a consumer)."""
    app = make_app(base_config(tmp_path, sqlite_url))
    yield app
    dispose_app(app)


@pytest.fixture(params=["sqlite", "postgresql"])
def app_on_each_database(request, tmp_path, sqlite_url):
    """The app with a real queue, once on SQLite and once on PostgreSQL."""
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    app = make_app(base_config(tmp_path, url))
    yield app
    dispose_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- People ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_attempt_left_over():
    """Tests that claim a job in this thread leave no attempt behind for the next test.

    A worker thread runs one attempt at a time and `jobs.finish` forgets it; tests that
    claim without finishing would otherwise hand their attempt to a later test's
    `checkpoint`, which would then stop with LeaseLost.
    """
    yield
    from paydash.ledger.attempt import _local  # noqa: PLC0415
    _local.task = None


@pytest.fixture(autouse=True)
def reuse_password_hashes(monkeypatch):
    """Hash each distinct password with scrypt once per run: a real scrypt hash, one salt.

    Scrypt costs ~0.3 s a call on these machines and most tests create seven users; sign-in
    still verifies against a genuine scrypt hash.
    """
    monkeypatch.setattr("paydash.accounts.generate_password_hash", _cached_scrypt_hash)


@functools.lru_cache(maxsize=64)
def _cached_scrypt_hash(password: str, method: str = "scrypt") -> str:
    return _generate_password_hash(password, method=method)



class People:
    """Two tenants and one user of every role, created in the given app."""

    def __init__(self, app):
        with app.app_context():
            a = accounts.create_tenant("Acme Traders", "acme")
            b = accounts.create_tenant("Bharat Motors", "bharat")
            self.tenant_a, self.tenant_b = a.id, b.id
            self.hr_a = accounts.create_user("hr@acme.test", PASSWORD, name="Asha HR", tenant=a).id
            self.hr_a2 = accounts.create_user("hr2@acme.test", PASSWORD, name="Arun HR", tenant=a).id
            self.admin_a = accounts.create_user("admin@acme.test", PASSWORD, name="Anil Admin",
                                                role=Role.TENANT_ADMIN.value, tenant=a).id
            self.hr_b = accounts.create_user("hr@bharat.test", PASSWORD, name="Bina HR", tenant=b).id
            self.admin_b = accounts.create_user("admin@bharat.test", PASSWORD, name="Balu Admin",
                                                role=Role.TENANT_ADMIN.value, tenant=b).id
            self.operator = accounts.create_user("ops@paydash.test", PASSWORD, name="Olga Ops",
                                                 role=Role.OPERATOR.value).id
            self.readonly = accounts.create_user("viewer@paydash.test", PASSWORD, name="Vik View",
                                                 role=Role.READONLY_OPERATOR.value).id
            db.session.commit()


@pytest.fixture
def people(app):
    return People(app)


def login(client, email: str, password: str = PASSWORD):
    """Sign in through the real form (fetching its CSRF token when CSRF is on)."""
    page = client.get("/login")
    match = re.search(rb'name="csrf_token" value="([^"]+)"', page.data)
    data = {"email": email, "password": password}
    if match:
        data["csrf_token"] = match.group(1).decode()
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.data[:500]
    return client


@pytest.fixture
def hr_client(app, people):
    return login(app.test_client(), "hr@acme.test")


# --- The real consumer -------------------------------------------------------------------


class Consumer:
    """`huey_consumer huey_app.huey` as a subprocess, configured like the app under test."""

    def __init__(self, env: dict, args: list[str], log_path: pathlib.Path):
        self.env, self.args, self.log_path = env, args, log_path
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        cmd = [sys.executable, "-m", "huey.bin.huey_consumer", "huey_app.huey", *self.args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def stop(self, sig=signal.SIGTERM, timeout: float = 30):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if getattr(self, "log", None):
            self.log.close()

    def kill(self):
        self.stop(signal.SIGKILL)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def consumer_env(config: dict, **extra) -> dict:
    env = dict(os.environ)
    env.update({
        "SECRET_KEY": config["SECRET_KEY"],
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "HUEY_SQLITE_PATH": config["HUEY_SQLITE_PATH"],
        "HUEY_NAME": config["HUEY_NAME"],
        "PYTHONPATH": str(ROOT),
        "HEARTBEAT_INTERVAL": "1",
    })
    if config.get("REDIS_URL"):
        env["REDIS_URL"] = config["REDIS_URL"]
    else:
        env.pop("REDIS_URL", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def start_consumer(tmp_path):
    """Start real consumers for an app's config; all are stopped at the end of the test."""
    started = []

    def start(app, workers: int = 2, worker_type: str = "thread", **env_extra) -> Consumer:
        env = consumer_env(app.config, WORKERS=workers, WORKER_TYPE=worker_type, **env_extra)
        args = ["-w", str(workers), "-k", worker_type, "-d", "0.05", "-m", "0.3",
                "--graceful-signal", "TERM", "--shutdown-timeout", "5"]
        consumer = Consumer(env, args, tmp_path / f"consumer-{len(started)}.log").start()
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        consumer.stop()


def wait_for(predicate, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    """Poll `predicate` until it returns a truthy value; fail with `message` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {message}")


# --- Browsers and live servers -------------------------------------------------------------


@pytest.fixture
def serve_app():
    """Serve apps over HTTP from threads on free ports: `serve_app(app)` gives the base URL.

    At teardown each server is shut down and its app's database connections are disposed.
    """
    running = []

    def serve(app) -> str:
        server = make_server("127.0.0.1", free_port(), app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((app, server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for app, server, thread in running:
        server.shutdown()
        thread.join(10)
        dispose_app(app)


@contextlib.contextmanager
def chromium_page(**context_options):
    """A page in headless Chromium with the given context options (locale, timezone_id, ...)."""
    if not pathlib.Path(CHROMIUM).exists():
        missing_service(f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415  (only browser tests need it)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser.new_context(**context_options).new_page()
        finally:
            browser.close()


@pytest.fixture
def browser_page():
    """Open Chromium pages: `browser_page(locale="en-IN")` gives a page; all close at teardown."""
    with contextlib.ExitStack() as stack:
        yield lambda **context_options: stack.enter_context(chromium_page(**context_options))


def statements_during(call) -> tuple[list[str], object]:
    """The SQL statements `call()` sends through the app's engine, and what it returned."""
    seen = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        result = call()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return seen, result
