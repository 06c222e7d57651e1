"""Outages: logged as events, not tracebacks; jobs they stopped resume once it is back."""
import logging

import psycopg
import psycopg.errors
import pytest
import redis
import sqlalchemy as sa
from conftest import base_config
from conftest import free_port
from conftest import make_app

from paydash import broker
from paydash.extensions import db
from paydash.ledger import bridge
from paydash.ledger import jobs
from paydash.ledger import outage
from paydash.ledger.models import Job
from paydash.ledger.models import JobEvent
from paydash.ledger.models import JobState
from paydash.ledger.queue import make_huey
from paydash.ledger.queue import queued_task_ids
from paydash.ledger.queue import task_wrapper


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "paydash.ledger.outage" and r.levelno == logging.WARNING]


def test_an_outage_logs_a_line_when_it_starts_one_a_minute_and_one_when_it_ends(caplog):
    caplog.set_level(logging.WARNING)
    clock = FakeClock()
    redis_outage = outage.Outage("queue broker", clock=clock)
    error = redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    for _ in range(150):  # 150 seconds, ten failed polls a second.
        for _ in range(10):
            redis_outage.failed("reading the queue", error)
        clock.now += 1
    redis_outage.answered()
    redis_outage.answered()
    lines = warnings_of(caplog)
    assert len(lines) == 4, lines
    assert lines[0].startswith("queue broker unreachable (reading the queue: ConnectionError")
    assert lines[1].startswith("queue broker still unreachable after 60 s")
    assert lines[2].startswith("queue broker still unreachable after 120 s")
    assert lines[3].startswith("queue broker is back after 150 s (1500 failed calls")


def test_polling_a_dead_redis_finds_nothing_and_writes_no_traceback(caplog):
    caplog.set_level(logging.DEBUG)
    huey = make_huey({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "HUEY_NAME": "dead"})
    for _ in range(20):
        assert huey.dequeue() is None
        assert huey.read_schedule(huey._get_timestamp()) == []
    assert not [r for r in caplog.records if r.exc_info]
    assert len([line for line in warnings_of(caplog) if "unreachable (" in line]) <= 1
    outage.BROKER.answered()


@pytest.fixture
def ledger_app(tmp_path, sqlite_url):
    app = make_app(base_config(tmp_path, sqlite_url))
    previous = bridge.use_app(app)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    bridge.use_app(previous)


def lost_connection() -> sa.exc.OperationalError:
    error = sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    error.connection_invalidated = True
    return error


def claimed_probe():
    job = jobs.create_job("diagnostic_probe", args=("k", 0.0))
    db.session.commit()
    task = task_wrapper(broker.huey, "diagnostic_probe")(("k", 0.0), {}, id=job.id)
    jobs.claim(task)
    return task


def stored(job_id: str) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_a_task_stopped_by_a_lost_database_connection_goes_back_uncounted(ledger_app):
    task = claimed_probe()
    jobs.finish(task, None, lost_connection())
    job = stored(task.id)
    assert (job.state, job.attempts) == (JobState.PENDING.value, 0)
    assert task.id in queued_task_ids(broker.huey)
    messages = db.session.scalars(sa.select(JobEvent.message).where(JobEvent.job_id == task.id))
    assert "stopped: the database connection was lost; back on the queue" in list(messages)


def test_a_lock_timeout_is_the_tasks_own_failure_and_counts(ledger_app):
    task = claimed_probe()
    jobs.finish(task, None, sa.exc.OperationalError("UPDATE", {}, Exception("lock timeout")))
    assert (stored(task.id).state, stored(task.id).attempts) == (JobState.RETRY.value, 1)


def test_an_outcome_the_database_could_not_take_is_written_once_it_answers(ledger_app, monkeypatch):
    task = claimed_probe()
    real_finish = jobs.finish

    def database_away(*args):
        raise lost_connection()

    monkeypatch.setattr(jobs, "finish", database_away)
    broker.huey._post_execute["_finish"](task, None, lost_connection())  # No exception out.
    assert stored(task.id).state == JobState.STARTED.value
    assert jobs.write_deferred() == 0  # Still away: kept for the next beat.
    monkeypatch.setattr(jobs, "finish", real_finish)
    assert jobs.write_deferred() == 1
    job = stored(task.id)
    assert (job.state, job.attempts) == (JobState.PENDING.value, 0)
    assert task.id in queued_task_ids(broker.huey)
    outage.DATABASE.answered()


def test_hueys_per_task_lines_are_dropped_only_while_an_outage_lasts(caplog):
    caplog.set_level(logging.INFO, logger="huey")
    outage.quiet_huey_while_away()
    huey_logger = logging.getLogger("huey")
    outage.DATABASE.failed("claim", lost_connection())
    huey_logger.info("Executing %s", "task-1")
    outage.DATABASE.answered()
    huey_logger.info("Executing %s", "task-2")
    executing = [r.getMessage() for r in caplog.records if r.name == "huey"]
    assert executing == ["Executing task-2"]


@pytest.mark.parametrize(("error", "lost"), [
    (psycopg.errors.AdminShutdown("terminating connection due to administrator command"), True),
    (psycopg.errors.CannotConnectNow("the database system is starting up"), True),
    (psycopg.OperationalError("server closed the connection unexpectedly"), True),
    (psycopg.errors.LockNotAvailable("could not obtain lock"), False),
    (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), False),
    (psycopg.errors.UniqueViolation("duplicate key"), False),
])
def test_a_server_going_away_is_told_from_the_statement_failing(error, lost):
    # The driver raises subclasses named by SQLSTATE: a restart's AdminShutdown must not
    # use up an attempt of the task that happened to be writing (found in issue 18's durable path).
    assert outage.connection_lost(error) is lost
    wrapped = sa.exc.OperationalError("UPDATE job ...", {}, error)
    assert outage.connection_lost(wrapped) is lost
    try:
        try:
            raise error
        except psycopg.Error as inner:
            raise RuntimeError("the task's write failed") from inner
    except RuntimeError as outer:
        assert outage.connection_lost(outer) is lost
