"""One job, one effect: the holes fault injection found (issue 13), one behaviour each.

The consumer's hooks are driven in-process through `huey.execute`, with the real ledger
writer, on SQLite and on PostgreSQL; faults are a real table lock or a failing read.
"""
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import types

import pytest
import sqlalchemy as sa
from conftest import ROOT
from conftest import People
from conftest import base_config
from conftest import make_app
from conftest import wait_for
from hostile_files import valid_xlsx
from sqlalchemy.orm import Session

from paydash import broker
from paydash import clock
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import attempt
from paydash.ledger import bridge
from paydash.ledger import dbclock
from paydash.ledger import jobs
from paydash.ledger import recovery
from paydash.ledger import stats
from paydash.ledger import workers
from paydash.ledger import writer as ledger_writer
from paydash.ledger.models import Job
from paydash.ledger.models import JobEvent
from paydash.ledger.models import JobState
from paydash.ledger.models import Worker
from paydash.ledger.queue import queued_task_ids
from paydash.ledger.queue import task_wrapper
from paydash.models import ChartAggregatedData
from paydash.models import SalaryRow
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.services import imports
from tasks import maintenance
from tasks.diagnostics import probe_counts


@pytest.fixture(params=["sqlite", "postgresql"])
def hooked_app(request, tmp_path, sqlite_url):
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    app = make_app(base_config(tmp_path, url, LEDGER_FLUSH_SECONDS=3600))
    previous = bridge.use_app(app)
    dbclock.forget()
    with app.app_context():
        jobs.start_ledger_writer(app)
        yield app
        bridge.use_app(previous)
        dbclock.forget()
        ledger_writer.stop()
        ledger_writer._writer = None
        db.session.remove()
        db.engine.dispose()


def probe(key: str):
    job = jobs.create_job("diagnostic_probe", args=(key, 0.0))
    db.session.commit()
    return task_wrapper(broker.huey, "diagnostic_probe")((key, 0.0), {}, id=job.id), job.id


def stored(job_id: str) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def failing_read(*args, **kwargs):
    raise sa.exc.OperationalError("SELECT paused_task", {}, Exception("lock timeout"))


# --- Hole 1: a task whose claim cannot be made does not run ---------------------------------


def test_a_task_whose_paused_check_fails_does_not_run_and_is_rescheduled(hooked_app, monkeypatch):
    task, job_id = probe("no-claim")
    monkeypatch.setattr(ledger_writer.LedgerWriter, "is_paused", failing_read)
    broker.huey.execute(task)
    assert probe_counts() == {"effects": 0, "executions": 0}
    job = stored(job_id)
    assert (job.state, job.attempts) == (JobState.PENDING.value, 0)
    assert job_id in queued_task_ids(broker.huey)  # Not dropped: it runs once the read works.
    monkeypatch.undo()
    broker.huey.execute(task, timestamp=task.eta)  # The read works again when it is due.
    ledger_writer.current().flush()
    assert probe_counts() == {"effects": 1, "executions": 1}
    assert (stored(job_id).state, stored(job_id).attempts) == (JobState.SUCCESS.value, 1)


def test_a_task_whose_claim_fails_with_the_broker_down_too_is_left_for_recovery(
        hooked_app, monkeypatch):
    task, job_id = probe("no-claim-no-broker")
    monkeypatch.setattr(ledger_writer.LedgerWriter, "is_paused", failing_read)
    monkeypatch.setattr(broker.huey, "add_schedule", failing_read)
    broker.huey.execute(task)
    assert probe_counts() == {"effects": 0, "executions": 0}
    job = stored(job_id)
    assert (job.state, job.attempts) == (JobState.PENDING.value, 0)


# --- Hole 2: every effectful commit of a task is fenced -------------------------------------


class Thief:
    """Takes the running attempt's job over just before the task's first write.

    As recovery and another worker would (lease expired, claimed again elsewhere): the job
    row gets another attempt's start time and worker, from another connection. The task's
    own transaction has written nothing yet, so the takeover never waits on it.
    """

    def __init__(self):
        self.stolen = None
        self.armed = False

    def steal(self, session) -> None:
        task = jobs.current_task()
        if not self.armed or self.stolen or task is None:
            return
        self.stolen = task.id
        jobs.claim_now()  # The attempt's claim is in the database before it is taken over.
        with db.engine.begin() as conn:
            conn.execute(sa.update(Job).where(Job.id == task.id).values(
                started_at=task.ledger_started_at + dt.timedelta(seconds=1), worker_id="thief:1"))

    def on_execute(self, state) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            self.steal(state.session)

    def before_flush(self, session, context, instances) -> None:
        if session.new or session.dirty or session.deleted:
            self.steal(session)


@pytest.fixture
def thief():
    found = Thief()
    sa.event.listen(Session, "do_orm_execute", found.on_execute)
    sa.event.listen(Session, "before_flush", found.before_flush)
    yield found
    sa.event.remove(Session, "do_orm_execute", found.on_execute)
    sa.event.remove(Session, "before_flush", found.before_flush)


def run_next(thief: Thief | None = None):
    """Dequeue the next task and run it through the consumer's hooks."""
    task = broker.huey.dequeue()
    if thief is not None:
        thief.armed = True
    broker.huey.execute(task)
    if thief is not None:
        thief.armed = False
    ledger_writer.current().flush()
    return task


def run_periodic(task_function, thief: Thief):
    task = task_function.s()
    thief.armed = True
    broker.huey.execute(task)
    thief.armed = False
    return task


def assert_taken_over(thief: Thief, task) -> None:
    assert thief.stolen == task.id
    job = stored(task.id)
    assert (job.state, job.worker_id) == (JobState.STARTED.value, "thief:1")


@pytest.fixture
def upload_of(hooked_app):
    people = People(hooked_app)
    upload = imports.receive_upload(people.tenant_a, people.hr_a, "oct.xlsx", valid_xlsx(), 2024, 10)
    return people, upload.id


def test_an_import_taken_over_before_its_first_write_changes_nothing(upload_of, thief):
    people, upload_id = upload_of
    task = run_next(thief)
    assert_taken_over(thief, task)
    db.session.expire_all()
    assert db.session.get(Upload, upload_id).status == UploadStatus.RECEIVED.value


def test_a_commit_taken_over_before_its_first_write_stores_no_row(upload_of, thief):
    people, upload_id = upload_of
    run_next()
    imports.confirm_upload(upload_id, people.tenant_a, people.hr_a)
    task = run_next(thief)
    assert_taken_over(thief, task)
    db.session.expire_all()
    assert db.session.get(Upload, upload_id).status == UploadStatus.PREVIEW.value
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SalaryRow)) == 0


def test_a_chart_sync_taken_over_before_its_first_write_writes_no_chart(upload_of, thief):
    people, upload_id = upload_of
    run_next()
    imports.confirm_upload(upload_id, people.tenant_a, people.hr_a)
    run_next()
    task = run_next(thief)
    assert task.name == "sync_chart_data_batch"
    assert_taken_over(thief, task)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChartAggregatedData)) == 0


def test_a_chart_cleanup_taken_over_deletes_nothing(upload_of, thief):
    people, upload_id = upload_of
    run_next()
    imports.confirm_upload(upload_id, people.tenant_a, people.hr_a)
    run_next()
    run_next()
    charts = db.session.scalar(sa.select(sa.func.count()).select_from(ChartAggregatedData))
    assert charts
    db.session.execute(sa.update(ChartAggregatedData).values(
        refreshed_at=utcnow() - dt.timedelta(days=400)))
    db.session.commit()
    task = run_periodic(maintenance.cleanup_old_chart_data, thief)
    assert_taken_over(thief, task)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChartAggregatedData)) == charts


def test_a_history_prune_taken_over_deletes_nothing(hooked_app, thief):
    old = jobs.create_job("noop", args=(0,))
    old.state, old.finished_at = JobState.SUCCESS.value, utcnow() - dt.timedelta(days=400)
    old_id = old.id
    db.session.commit()
    task = run_periodic(maintenance.prune_history, thief)
    assert_taken_over(thief, task)
    assert stored(old_id) is not None


# --- Hole 4: leases are judged on the database's clock --------------------------------------


def host_clock_off_by(monkeypatch, seconds: float) -> None:
    """This host's clock runs `seconds` away from the true (database) time.

    The system time `paydash.clock` reads is what is skewed, so every caller sees it.
    """
    skew = dt.timedelta(seconds=seconds)

    class SkewedDatetime(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime.now(tz) + skew

    monkeypatch.setattr(clock, "dt", types.SimpleNamespace(datetime=SkewedDatetime, UTC=dt.UTC))
    dbclock.forget()


@pytest.mark.parametrize("skew", [-300, 300])
def test_five_minutes_of_skew_between_hosts_takes_over_no_live_job(hooked_app, monkeypatch, skew):
    task, job_id = probe("skewed")
    host_clock_off_by(monkeypatch, skew)  # The worker's host.
    jobs.claim(task)
    workers.beat([job_id])
    host_clock_off_by(monkeypatch, -skew)  # Recovery runs on a host skewed the other way.
    report = recovery.recover_lost_jobs()
    assert report.requeued_dead_worker == [] and report.failed_dead_worker == []
    assert stored(job_id).state == JobState.STARTED.value


def test_a_silent_job_is_still_taken_over_by_a_skewed_host(hooked_app, monkeypatch):
    task, job_id = probe("silent")
    jobs.claim(task)
    db.session.execute(sa.update(Job).where(Job.id == job_id).values(
        heartbeat_at=dbclock.utcnow() - dt.timedelta(seconds=61)))
    db.session.commit()
    host_clock_off_by(monkeypatch, -300)  # Five minutes behind: the lease still expired.
    report = recovery.recover_lost_jobs()
    assert report.requeued_dead_worker == [job_id]


# --- Hole 3: a worker's identity is unique per process start --------------------------------


def identities_in_new_pid_namespaces(count: int) -> list[list[str]]:
    """[worker id, pid, machine] of processes alive at once, each in a PID namespace of its own."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    code = ("import os, sys; from paydash.ledger import workers; "
            "print(workers.current_worker_id(), os.getpid(), workers.MACHINE, flush=True); "
            "sys.stdin.read()")
    started = [subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", code],
                                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, PYTHONPATH=str(ROOT)))
               for _ in range(count)]
    lines = [proc.stdout.readline().split() for proc in started]  # All alive meanwhile.
    for proc in started:
        proc.communicate("", timeout=60)
    if any(proc.returncode != 0 or not line for proc, line in zip(started, lines)):
        pytest.skip("cannot make PID namespaces here (not root?)")
    return lines


def test_two_consumers_with_the_same_hostname_and_pid_have_different_identities():
    first, second = identities_in_new_pid_namespaces(2)
    assert first[1] == second[1] == "1"  # The same pid, on the same hostname...
    assert first[0] != second[0]  # ...yet two workers,
    assert first[2] != second[2]  # in two PID namespaces: neither reads the other's pid.


def twin_worker(pid: int, machine: str | None) -> Worker:
    """A live consumer elsewhere that shares this host's name (a cloned VM, a container)."""
    twin = Worker(id=f"{socket.gethostname()}:{pid}:twin", host=socket.gethostname(), pid=pid,
                  process_key="twin", machine=machine, worker_type="thread",
                  heartbeat_at=dbclock.utcnow())
    db.session.add(twin)
    db.session.commit()
    return twin


def job_running_on(worker_id: str) -> str:
    job = jobs.create_job("noop", args=(0,))
    job.state, job.worker_id = JobState.STARTED.value, worker_id
    job.started_at = job.heartbeat_at = dbclock.utcnow()
    db.session.commit()
    return job.id


@pytest.mark.parametrize("pid", ["absent here", "the same as ours"])
def test_a_live_twin_on_another_machine_keeps_its_jobs(hooked_app, pid):
    """Its pid means nothing in this PID namespace: only its lease can say it is dead."""
    twin = twin_worker(os.getpid() if pid == "the same as ours" else 2**22 + 9, "another-machine")
    job_id = job_running_on(twin.id)
    report = recovery.recover_lost_jobs()
    assert report.requeued_dead_worker == [] and report.failed_dead_worker == []
    assert stored(job_id).state == JobState.STARTED.value


def test_a_dead_consumer_of_this_machine_is_released_at_once(hooked_app):
    gone = twin_worker(2**22 + 9, workers.MACHINE)
    job_id = job_running_on(gone.id)
    assert recovery.recover_lost_jobs().requeued_dead_worker == [job_id]


def test_a_task_whose_claim_waits_on_a_locked_table_does_not_run(tmp_path, pg_url):
    """The issue's reproduction: paused_task locked by hand, claims time out on the lock."""
    app = make_app(base_config(tmp_path, pg_url, LEDGER_FLUSH_SECONDS=3600,
                               DB_LOCK_TIMEOUT_SECONDS=1))
    previous = bridge.use_app(app)
    admin = sa.create_engine(pg_url)
    try:
        with app.app_context():
            jobs.start_ledger_writer(app)
            task, job_id = probe("locked")
            with admin.connect() as holder:
                holder.begin()
                holder.exec_driver_sql("LOCK TABLE paused_task IN ACCESS EXCLUSIVE MODE")
                broker.huey.execute(task)
            assert probe_counts() == {"effects": 0, "executions": 0}
            assert (stored(job_id).state, stored(job_id).attempts) == (JobState.PENDING.value, 0)
            assert job_id in queued_task_ids(broker.huey)
    finally:
        bridge.use_app(previous)
        ledger_writer.stop()
        ledger_writer._writer = None
        admin.dispose()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# --- Hole 6: recovery runs on its own thread, every few seconds -----------------------------


@pytest.mark.slow
def test_recovery_rescues_a_lost_message_while_every_worker_is_busy(
        tmp_path, pg_url, redis_queue, start_consumer):
    redis_url, name = redis_queue
    app = make_app(base_config(tmp_path, pg_url, REDIS_URL=redis_url, HUEY_NAME=name))
    with app.app_context():
        busy = jobs.create_job("diagnostic_probe", args=("busy", 30.0))
        jobs.commit_and_dispatch(busy)
        start_consumer(app, workers=1, ENQUEUE_GRACE_SECONDS=2, RECOVERY_INTERVAL=1)
        wait_for(lambda: stored(busy.id).state == JobState.STARTED.value, timeout=30,
                 message="the only worker to be busy")
        # A job whose message Redis lost: the ledger says enqueued, no queue holds it.
        lost = jobs.create_job("noop", args=(0,))
        lost.enqueued_at = dbclock.utcnow() - dt.timedelta(seconds=10)
        db.session.commit()
        wait_for(lambda: any("broker data lost" in m for m in messages_of(lost.id)), timeout=20,
                 interval=0.5, message="recovery to re-enqueue the lost job")
        assert stored(busy.id).state == JobState.STARTED.value  # Still busy meanwhile.
        assert lost.id in queued_task_ids(broker.huey)
        db.session.remove()
        db.engine.dispose()


def messages_of(job_id: str) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(JobEvent.message).where(JobEvent.job_id == job_id)))


# --- Hole 10: process workers die with their consumer ---------------------------------------


def children_of(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return {int(child) for child in f.read().split()}
    except OSError:
        return set()


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_process_workers_die_when_their_consumer_is_killed(
        tmp_path, pg_url, redis_queue, start_consumer):
    redis_url, name = redis_queue
    app = make_app(base_config(tmp_path, pg_url, REDIS_URL=redis_url, HUEY_NAME=name))
    with app.app_context():
        consumer = start_consumer(app, workers=2, worker_type="process")
        forked = wait_for(lambda: len(children_of(consumer.proc.pid)) == 3
                          and children_of(consumer.proc.pid), timeout=30,
                          message="the consumer to fork two workers and its scheduler")
        wait_for(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Worker)),
                 timeout=30, message="the consumer to register")
        os.kill(consumer.proc.pid, signal.SIGKILL)  # The main process only, as kill -9 <pid>.
        consumer.proc.wait(10)
        wait_for(lambda: not any(running(pid) for pid in forked), timeout=20,
                 message="the orphaned workers to exit")
        # And the dashboard stops calling it alive once its lease is over (3 s here).
        wait_for(lambda: {w["status"] for w in stats.workers_view(dbclock.utcnow(), 3)} == {"stale"},
                 timeout=20, interval=0.5, message="the dead consumer to be shown stale")
        db.session.remove()
        db.engine.dispose()


# --- Hole 9: an attempt interrupted by a shutdown is not counted ------------------------------


def pipeline_error_from_an_interrupt() -> Exception:
    """What psycopg raised when Huey's KeyboardInterrupt landed in the middle of a commit."""
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise sa.exc.OperationalError("COMMIT", {}, Exception(
                "cannot exit pipeline mode while busy")) from None
    except sa.exc.OperationalError as exc:
        return exc


@pytest.mark.parametrize("how", ["chained", "after the interrupt signal"])
def test_a_commit_broken_by_a_shutdown_goes_back_uncounted(hooked_app, monkeypatch, how):
    task, job_id = probe("interrupted")
    jobs.claim(task)
    if how == "chained":
        error = pipeline_error_from_an_interrupt()
    else:  # The driver's error names no interrupt at all; the signal had arrived.
        monkeypatch.setattr(attempt, "_interrupt", threading.Event())
        attempt.interrupt_requested()
        error = sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))
    jobs.finish(task, None, error)
    job = stored(job_id)
    assert (job.state, job.attempts) == (JobState.PENDING.value, 0)
    assert "interrupted by a worker shutdown; back on the queue" in messages_of(job_id)
    assert job_id in queued_task_ids(broker.huey)
    assert getattr(task, "ledger_interrupted", False)  # Huey's own retry is not added.


def test_a_real_failure_still_counts(hooked_app):
    task, job_id = probe("failed")
    jobs.claim(task)
    jobs.finish(task, None, ValueError("bad row"))
    assert (stored(job_id).state, stored(job_id).attempts) == (JobState.RETRY.value, 1)
