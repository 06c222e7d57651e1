"""No job lost: short fault-injection runs against the real consumer, Redis and PostgreSQL.

Each test runs its own redis-server on a free port, so it can stop it or restart it
empty without touching the shared Redis. `bench/fault_injection.py` runs the long
versions of the same scenarios.
"""
import datetime as dt
import shutil
import signal
import subprocess
import time

import pytest
import sqlalchemy as sa
from conftest import base_config
from conftest import free_port
from conftest import make_app
from conftest import wait_for

from paydash import broker
from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger import recovery
from paydash.ledger.models import Job
from paydash.ledger.models import JobEvent
from paydash.ledger.models import JobState
from paydash.ledger.models import Worker
from paydash.ledger.queue import queued_task_ids
from paydash.ledger.queue import task_wrapper
from tasks.diagnostics import probe_counts

pytestmark = pytest.mark.slow


class PrivateRedis:
    """A redis-server of this test's own, without persistence: a restart comes back empty."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = tmp_path / f"redis-{self.port}.log"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--logfile", str(self.log)])
        wait_for(self.answers, timeout=10, message="private redis-server to answer")
        return self

    def answers(self) -> bool:
        import redis  # noqa: PLC0415
        try:
            return redis.Redis.from_url(self.url, socket_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def fault_app(tmp_path, pg_url, private_redis):
    """The app on a private PostgreSQL database and the private Redis, with test limits."""
    app = make_app(base_config(tmp_path, pg_url, REDIS_URL=private_redis.url,
                               PROBE_RETRIES=4, PROBE_RETRY_DELAY=0, LEASE_SECONDS=4,
                               ENQUEUE_GRACE_SECONDS=2))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


FAST_LEASES = {"HEARTBEAT_INTERVAL": 1, "LEASE_SECONDS": 4, "ENQUEUE_GRACE_SECONDS": 2}


def create_probes(count: int, seconds: float, prefix: str = "p") -> list[str]:
    created = [jobs.create_job("diagnostic_probe", args=(f"{prefix}{i}", seconds))
               for i in range(count)]
    jobs.commit_and_dispatch(*created)
    return [job.id for job in created]


def states(ids: list[str]) -> dict:
    db.session.expire_all()
    rows = db.session.execute(sa.select(Job.state, sa.func.count()).where(Job.id.in_(ids))
                              .group_by(Job.state)).all()
    return dict(rows)


def all_succeeded(ids: list[str]) -> bool:
    return states(ids).get(JobState.SUCCESS.value, 0) == len(ids)


def events_of(job_id: str) -> list[str]:
    return list(db.session.scalars(sa.select(JobEvent.message)
                                   .where(JobEvent.job_id == job_id).order_by(JobEvent.id)))


def test_uploads_accepted_while_redis_is_down_run_after_it_returns(
        fault_app, tmp_path, pg_url, private_redis, start_consumer):
    private_redis.stop()
    ids = create_probes(5, 0.1, "outbox")
    assert states(ids) == {JobState.PENDING.value: 5}
    job = db.session.get(Job, ids[0])
    assert jobs.plain_status(job) == "Queued — it will run when the worker is reachable"
    # The web process that accepted them goes away; a new one knows nothing about them.
    db.session.remove()
    db.engine.dispose()
    private_redis.start()
    start_consumer(fault_app, workers=2, **FAST_LEASES)
    # The consumer's start-up recovery pass enqueues what the outbox holds.
    wait_for(lambda: all_succeeded(ids), timeout=30, message="outbox jobs to run")
    assert probe_counts() == {"effects": 5, "executions": 5}


def test_a_job_finishing_while_redis_is_down_is_recorded_once(
        fault_app, private_redis, start_consumer):
    """Huey cleans up in the broker before our finish hook; a dead broker must not skip it."""
    ids = create_probes(2, 2.0, "finish")
    start_consumer(fault_app, workers=2, **FAST_LEASES)
    wait_for(lambda: states(ids).get(JobState.STARTED.value, 0) == 2, timeout=30,
             message="both jobs to start")
    private_redis.stop()
    wait_for(lambda: all_succeeded(ids), timeout=30, message="the jobs to be recorded as done")
    private_redis.start()
    time.sleep(4)  # Longer than the fast lease: a lost outcome would have re-run by now.
    assert all_succeeded(ids)
    assert probe_counts() == {"effects": 2, "executions": 2}


@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_kill_9_of_the_consumer_loses_no_job_and_doubles_no_effect(
        fault_app, start_consumer, worker_type):
    ids = create_probes(8, 1.5, "kill")
    consumer = start_consumer(fault_app, workers=4, worker_type=worker_type, **FAST_LEASES)
    wait_for(lambda: states(ids).get(JobState.STARTED.value, 0) >= 2, timeout=30,
             message="jobs to start")
    consumer.kill()
    assert states(ids).get(JobState.STARTED.value, 0) >= 2
    start_consumer(fault_app, workers=4, worker_type=worker_type, **FAST_LEASES)
    wait_for(lambda: all_succeeded(ids), timeout=60, message="every job to succeed")
    assert probe_counts() == {"effects": 8, "executions": 8}


def test_silent_worker_lease_expires_and_job_reruns_elsewhere(fault_app, start_consumer):
    (job_id,) = create_probes(1, 5.0, "lease")
    consumer = start_consumer(fault_app, workers=1, **FAST_LEASES)
    wait_for(lambda: states([job_id]).get(JobState.STARTED.value), timeout=30,
             message="the job to start")
    # SIGSTOP: the worker is alive but silent, as when a host hangs; no pid check helps.
    # Its blocked dequeue may even take the re-enqueued message with it, which the
    # "no queue holds it" pass of recovery then notices.
    consumer.proc.send_signal(signal.SIGSTOP)
    try:
        start_consumer(fault_app, workers=1, **FAST_LEASES)

        def recovered():
            with fault_app.app_context():
                recovery.recover_lost_jobs()  # Stands in for the minute's periodic pass.
            return all_succeeded([job_id])

        wait_for(recovered, timeout=30, interval=0.5, message="the job to rerun")
    finally:
        consumer.proc.send_signal(signal.SIGCONT)
    assert any("stopped heart-beating" in m for m in events_of(job_id))
    assert db.session.get(Job, job_id).attempts == 2
    assert probe_counts() == {"effects": 1, "executions": 1}


@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_sigterm_puts_interrupted_jobs_back_on_the_queue_at_once(
        fault_app, start_consumer, private_redis, worker_type):
    (job_id,) = create_probes(1, 30, "term")
    consumer = start_consumer(fault_app, workers=1, worker_type=worker_type, **FAST_LEASES)
    wait_for(lambda: states([job_id]).get(JobState.STARTED.value), timeout=30,
             message="the job to start")
    consumer.proc.send_signal(signal.SIGTERM)  # The platform signals the consumer only.
    consumer.proc.wait(20)
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert (job.state, job.attempts) == (JobState.PENDING.value, 0)
    assert "interrupted by a worker shutdown; back on the queue" in events_of(job_id)
    assert job_id in queued_task_ids(broker.huey)


def test_pending_jobs_survive_redis_restarting_empty(fault_app, private_redis, start_consumer):
    ids = create_probes(6, 0.1, "empty")
    private_redis.stop()
    private_redis.start()
    assert not queued_task_ids(broker.huey)
    time.sleep(FAST_LEASES["ENQUEUE_GRACE_SECONDS"] + 0.5)  # Past the enqueue grace.
    start_consumer(fault_app, workers=2, **FAST_LEASES)
    wait_for(lambda: all_succeeded(ids), timeout=40, message="lost jobs to be re-enqueued")
    assert all(any("broker data lost" in m for m in events_of(i)) for i in ids)


@pytest.mark.parametrize("worker_type,checkpoints,error", [
    ("thread", True, "timed out: ran past its 2 s limit"),
    ("process", False, "timed out: timeout (2s)"),
])
def test_job_past_its_time_limit_is_stopped_and_retried(
        tmp_path, pg_url, private_redis, start_consumer, worker_type, checkpoints, error):
    app = make_app(base_config(tmp_path, pg_url, REDIS_URL=private_redis.url,
                               PROBE_TIMEOUT=2, PROBE_RETRY_DELAY=0))
    with app.app_context():
        job = jobs.create_job("diagnostic_probe", args=("slow", 30),
                              job_id=None)
        job.args = {"args": ["slow", 30, 1, checkpoints]}
        jobs.commit_and_dispatch(job)
        start_consumer(app, workers=1, worker_type=worker_type, **FAST_LEASES)
        wait_for(lambda: all_succeeded([job.id]), timeout=30, message="the retry to succeed")
        messages = events_of(job.id)
        assert any(m.startswith(f"attempt 1 failed: {error}") for m in messages), messages
        assert db.session.get(Job, job.id).attempts == 2
        db.session.remove()
        db.engine.dispose()


def test_the_same_message_delivered_twice_has_one_effect(fault_app, start_consumer):
    (job_id,) = create_probes(1, 0.5, "twice")
    job = db.session.get(Job, job_id)
    task = task_wrapper(broker.huey, "diagnostic_probe")(("twice0", 0.5), {}, id=job_id)
    broker.huey.enqueue(task)
    assert len([t for t in broker.huey.pending() if t.id == job.id]) == 2
    start_consumer(fault_app, workers=2, **FAST_LEASES)
    wait_for(lambda: all_succeeded([job_id]) and not broker.huey.pending(), timeout=30,
             message="both deliveries to be handled")
    time.sleep(0.5)
    assert probe_counts() == {"effects": 1, "executions": 1}
    assert db.session.get(Job, job_id).attempts == 1


def test_two_consumers_run_the_minute_recovery_once(fault_app, start_consumer):
    # Both schedulers check periodic tasks as they start; keep both in the same minute.
    while dt.datetime.now().second > 40:
        time.sleep(1)
    for _ in range(2):
        start_consumer(fault_app, workers=1, **FAST_LEASES)

    def runs():
        db.session.expire_all()
        return db.session.execute(
            sa.select(Job.state).where(Job.task_name == "recover_lost_jobs")).scalars().all()

    wait_for(lambda: len(runs()) == 2 and JobState.PENDING.value not in runs()
             and JobState.STARTED.value not in runs(), timeout=30, message="both enqueues")
    assert sorted(runs()) == [JobState.REVOKED.value, JobState.SUCCESS.value]
    assert len(db.session.scalars(sa.select(Worker)).all()) == 2
