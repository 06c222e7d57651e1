"""A consumer worker thread keeps one app context (bridge.keep_app_context), and still
starts every task clean: no session, no transaction and nothing in `g` left by the task
before it, whether that task returned or raised.

Each test runs in a thread of its own, as a worker does, so the kept context never
outlives the test.
"""
import os
import subprocess
import sys
import threading

import pytest
import sqlalchemy as sa
from conftest import ROOT
from conftest import base_config
from conftest import make_app
from flask import g
from flask import has_app_context
from flask.globals import app_ctx

from paydash.extensions import db
from paydash.ledger import bridge


def in_worker_thread(fn):
    """Run `fn` in a new thread that has called the startup hook's keep_app_context()."""
    outcome = {}

    def target():
        bridge.keep_app_context()
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # Re-raised in the test's thread.
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture
def worker_app(tmp_path, sqlite_url):
    app = make_app(base_config(tmp_path, sqlite_url))
    previous = bridge.use_app(app)
    yield app
    bridge.use_app(previous)
    with app.app_context():
        db.engine.dispose()


def snapshot() -> dict:
    """What a task finds when it starts."""
    return {"context": app_ctx._get_current_object(), "g": dict(vars(g)),
            "session_open": db.session.registry.has()}


def test_tasks_share_one_context_but_never_a_session_or_g(worker_app):
    @bridge.in_app_context
    def task(n):
        seen = snapshot()
        g.left_behind = n
        db.session.execute(sa.text("SELECT 1"))
        assert db.session().in_transaction()
        return seen

    def worker():
        first, second = task(1), task(2)
        return first, second, db.session.registry.has(), dict(vars(g))

    first, second, session_after, g_after = in_worker_thread(worker)
    assert first["context"] is second["context"]
    assert first["context"].app is worker_app
    assert second["g"] == {} and second["session_open"] is False
    assert (session_after, g_after) == (False, {})


def test_a_task_that_raises_leaves_no_transaction_behind(worker_app):
    @bridge.in_app_context
    def failing():
        db.session.execute(sa.text("SELECT 1"))
        g.half_done = True
        raise RuntimeError("boom")

    @bridge.in_app_context
    def next_task():
        return snapshot()

    def worker():
        with pytest.raises(RuntimeError):
            failing()
        return next_task()

    seen = in_worker_thread(worker)
    assert (seen["session_open"], seen["g"]) == (False, {})


def test_a_nested_call_runs_inside_the_task_and_leaves_its_session_alone(worker_app):
    @bridge.in_app_context
    def helper():
        return app_ctx._get_current_object(), db.session()

    @bridge.in_app_context
    def task():
        session = db.session()
        db.session.execute(sa.text("SELECT 1"))
        context, helper_session = helper()
        return context is app_ctx._get_current_object(), helper_session is session, \
            db.session().in_transaction()

    assert in_worker_thread(task) == (True, True, True)


def test_inside_a_context_someone_else_pushed_that_one_is_used_and_kept(worker_app):
    @bridge.in_app_context
    def wrapped():
        db.session.execute(sa.text("SELECT 1"))
        return app_ctx._get_current_object()

    def worker():
        with worker_app.app_context() as theirs:
            used = wrapped()
            # Their session is theirs to end: still open, still in its transaction.
            still_open = db.session.registry.has() and db.session().in_transaction()
        return used is theirs, still_open

    assert in_worker_thread(worker) == (True, True)


def test_threads_that_are_not_workers_push_a_context_per_call(worker_app):
    contexts = []

    @bridge.in_app_context
    def wrapped():
        contexts.append(app_ctx._get_current_object())

    def plain_thread():
        wrapped()
        wrapped()
        return has_app_context()

    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("after", plain_thread()))
    thread.start()
    thread.join(30)
    assert outcome == {"after": False}
    assert contexts[0] is not contexts[1]


def test_a_failed_teardown_drops_the_context_so_the_next_task_starts_fresh(worker_app, caplog):
    calls = []

    def flaky_teardown(error):
        calls.append(error)
        if len(calls) == 1:
            raise RuntimeError("teardown broke")

    worker_app.teardown_appcontext_funcs.append(flaky_teardown)

    @bridge.in_app_context
    def task(n):
        g.n = n
        return app_ctx._get_current_object()

    def worker():
        first = task(1)
        second = task(2)
        return first, second, dict(vars(g))

    try:
        first, second, g_after = in_worker_thread(worker)
    finally:
        worker_app.teardown_appcontext_funcs.remove(flaky_teardown)
    assert first is not second  # A fresh context, so a fresh session scope and g.
    assert g_after == {}
    assert "tearing down the worker's app context failed" in caplog.text


def test_the_teardown_functions_get_the_tasks_exception(worker_app):
    seen = []
    worker_app.teardown_appcontext_funcs.append(seen.append)

    @bridge.in_app_context
    def failing():
        raise KeyError("lost")

    def worker():
        with pytest.raises(KeyError):
            failing()

    try:
        in_worker_thread(worker)
    finally:
        worker_app.teardown_appcontext_funcs.remove(seen.append)
    assert len(seen) == 1 and isinstance(seen[0], KeyError)


@pytest.mark.parametrize("argv0", ["/venv/bin/huey_consumer", "python -m huey.bin.huey_consumer"])
def test_the_consumer_builds_the_app_and_its_mappers_before_forking(tmp_path, argv0):
    # Run as huey_consumer runs it (the module is imported before any worker starts):
    # the app must be built and the ORM configured by then, so forked workers share them.
    # Any other process (web, tests, CLI) builds nothing at import.
    script = (
        "import sys; sys.argv = sys.argv[1:]\n"
        "import huey_app\n"
        "from paydash.ledger.models import Job\n"
        "import sqlalchemy as sa\n"
        "from paydash.ledger import bridge\n"
        "print(bridge._app is not None, sa.inspect(Job).configured)\n")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
           "HUEY_SQLITE_PATH": str(tmp_path / "q.db"), "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)

    def built(*argv) -> str:
        return subprocess.run([sys.executable, "-c", script, *argv], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True).stdout.split("\n")[-2]

    assert built(*argv0.split(), "huey_app.huey") == "True True"
    assert built("gunicorn", "app:app") == "False False"


def _dbapi_connection():
    return db.session.connection().connection.driver_connection


def _closed(connection) -> bool:
    try:
        connection.execute("SELECT 1")
    except Exception:   # sqlite3.ProgrammingError: "Cannot operate on a closed database."
        return True
    return False


def test_after_a_big_job_the_pooled_connections_are_closed_its_own_among_them(worker_app):
    """Issue 18: a connection keeps buffers the size of what it carried (an import carries
    the workbook), so after a task run under `memory.given_back()` the consumer closes the
    pool's connections, the task's own once teardown has returned it. Ordinary tasks keep
    theirs."""
    from paydash.ledger import memory  # noqa: PLC0415

    @bridge.in_app_context
    def ordinary():
        return _dbapi_connection()

    @bridge.in_app_context
    def big():
        with memory.given_back():
            return _dbapi_connection()

    def worker():   # checked in the worker's thread: sqlite3 connections belong to it
        first = ordinary()
        again = ordinary()
        kept = not _closed(first)
        used_by_big = big()
        after = ordinary()
        return (again is first, kept, used_by_big is first, _closed(used_by_big),
                after is not used_by_big, not _closed(after))

    again_same, kept, big_same, big_closed, after_new, after_open = in_worker_thread(worker)
    assert again_same and kept             # the pool keeps an ordinary task's connection
    assert big_same and big_closed         # closed once the big task's teardown returned it
    assert after_new and after_open        # the next task opens a new one
