"""The ledger's write-behind (paydash/ledger_writer.py) on SQLite and on PostgreSQL.

In-process tests drive the same hooks the consumer runs (`jobs.claim_behind`,
`jobs.finish_behind`, `checkpoint`, `fence`, `on_interrupted`) with a writer whose thread
never flushes on its own (a long interval), so each test decides when the batch is
written. The last tests run the real consumer.
"""
import time

import pytest
import sqlalchemy as sa
from conftest import base_config
from conftest import make_app
from conftest import wait_for
from flask import current_app
from huey.constants import EmptyData

from paydash import broker
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger import recovery
from paydash.ledger import writer as ledger_writer
from paydash.ledger.models import Job
from paydash.ledger.models import JobEvent
from paydash.ledger.models import JobState
from paydash.ledger.models import PausedTask
from paydash.ledger.queue import queued_task_ids
from paydash.ledger.queue import task_wrapper


@pytest.fixture(params=["sqlite", "postgresql"])
def writer_app(request, tmp_path, sqlite_url):
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    app = make_app(base_config(tmp_path, url))
    with app.app_context():
        yield app
        ledger_writer.stop()
        ledger_writer._writer = None
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def writer(writer_app):
    writer_app.config["LEDGER_FLUSH_SECONDS"] = 3600  # Written only when a test says so.
    jobs.start_ledger_writer(writer_app)
    started = ledger_writer.current()
    assert started is not None
    return started


def new_job(task_name="noop", args=(0,)) -> Job:
    job = jobs.create_job(task_name, args=args)
    db.session.commit()
    return job


def task_for(job_id: str, task_name="noop", args=(0,)):
    return task_wrapper(broker.huey, task_name)(tuple(args), {}, id=job_id)


def stored(job_id: str) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def events_of(job_id: str) -> list[tuple[str, str]]:
    return [(e.state, e.message) for e in db.session.scalars(
        sa.select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))]


def test_claims_and_successes_wait_for_the_batch_then_land_in_one_write(writer):
    created = [new_job() for _ in range(5)]
    tasks = [task_for(job.id) for job in created]
    for task in tasks:
        assert jobs.claim_behind(task)
        assert jobs.finish_behind(task, {"n": 1}, None)
    assert {stored(job.id).state for job in created} == {JobState.PENDING.value}
    writer.flush()
    for job in created:
        row = stored(job.id)
        assert (row.state, row.attempts, row.result) == (JobState.SUCCESS.value, 1, {"n": 1})
        assert row.started_at <= row.finished_at and row.runtime_seconds >= 0
        assert events_of(job.id) == [("PENDING", "created"), ("STARTED", "attempt 1 started"),
                                     ("SUCCESS", "done")]


def test_a_claim_written_alone_is_finished_by_a_later_batch(writer):
    job = new_job()
    task = task_for(job.id)
    jobs.claim_behind(task)
    writer.flush()
    assert stored(job.id).state == JobState.STARTED.value
    assert stored(job.id).worker_id == jobs.worker_id()
    jobs.finish_behind(task, None, None)
    writer.flush()
    row = stored(job.id)
    assert (row.state, row.result) == (JobState.SUCCESS.value, None)
    assert [state for state, _ in events_of(job.id)] == ["PENDING", "STARTED", "SUCCESS"]


def test_two_deliveries_of_one_job_in_one_batch_run_it_once(writer):
    job = new_job()
    first, second = task_for(job.id), task_for(job.id)
    jobs.claim_behind(first)
    jobs.claim_behind(second)
    jobs.finish_behind(first, {"who": "first"}, None)
    jobs.finish_behind(second, {"who": "second"}, None)
    writer.flush()
    claimed = [t.ledger_attempt.claimed for t in (first, second)]
    assert sorted(claimed) == [False, True]
    row = stored(job.id)
    assert row.attempts == 1 and row.state == JobState.SUCCESS.value
    assert [state for state, _ in events_of(job.id)] == ["PENDING", "STARTED", "SUCCESS"]


def test_a_second_delivery_of_a_finished_job_changes_nothing(writer):
    job = new_job()
    first = task_for(job.id)
    jobs.claim_behind(first)
    jobs.finish_behind(first, {"run": 1}, None)
    writer.flush()
    again = task_for(job.id)
    jobs.claim_behind(again)
    jobs.finish_behind(again, {"run": 2}, None)
    writer.flush()
    assert again.ledger_attempt.claimed is False
    row = stored(job.id)
    assert (row.attempts, row.result) == (1, {"run": 1})


def test_a_job_the_ledger_never_saw_gets_its_row_and_is_claimed(writer):
    task = task_for("0b7f0c6e-0000-4000-8000-000000000001")
    jobs.claim_behind(task)
    jobs.finish_behind(task, {"ok": True}, None)
    writer.flush()
    row = stored(task.id)
    assert row is not None and (row.state, row.attempts) == (JobState.SUCCESS.value, 1)


def test_a_paused_task_is_claimed_the_synchronous_way(writer):
    job = new_job()
    db.session.add(PausedTask(task_name="noop", paused_at=utcnow()))
    db.session.commit()
    writer._paused = (frozenset(), float("-inf"))  # As if the TTL had passed.
    assert not jobs.claim_behind(task_for(job.id))
    with pytest.raises(jobs.Skip):
        jobs.claim(task_for(job.id))


def test_a_pause_landing_after_the_claim_refuses_it_and_reschedules_the_job(writer):
    job = new_job()
    task = task_for(job.id)
    assert jobs.claim_behind(task)
    db.session.add(PausedTask(task_name="noop", paused_at=utcnow()))
    db.session.commit()
    jobs.finish_behind(task, None, None)
    writer.flush()
    assert task.ledger_attempt.claimed is False
    assert stored(job.id).state == JobState.PENDING.value
    assert job.id in {t.id for t in broker.huey.scheduled()}


def test_huey_skips_the_revoke_flag_delete_for_an_attempt_the_ledger_holds(writer):
    huey = broker.huey
    job, other = new_job(), new_job()
    task = task_for(job.id)
    assert jobs.claim_behind(task)
    huey.revoke_by_id(other.id, revoke_once=True)
    huey.put(task.revoke_id, (None, True))  # Stands in for a flag; no revoke can set one now.
    # What Huey's `_execute` calls after the task: not for the running attempt, for others yes.
    assert huey.delete(task.revoke_id) is False
    assert huey.storage.peek_data(task.revoke_id) is not EmptyData
    huey.delete(task_for(other.id).revoke_id)
    assert huey.storage.peek_data(task_for(other.id).revoke_id) is EmptyData
    jobs.finish_behind(task, None, None)
    assert huey.delete(task.revoke_id)  # Once the attempt is over, a delete goes through.


def revoked_while_its_claim_waits() -> tuple:
    """A job claimed behind, then revoked from the dashboard while the attempt runs: the
    ledger still said PENDING, so the revoke went through and set the broker's flag."""
    job = new_job()
    task = task_for(job.id)
    assert jobs.claim_behind(task)
    db.session.execute(sa.update(Job).where(Job.id == job.id).values(state=JobState.REVOKED.value))
    db.session.commit()
    broker.huey.revoke_by_id(job.id, revoke_once=True)
    return job, task


def test_a_job_revoked_while_its_claim_waits_loses_its_broker_flag_with_the_claim(writer):
    huey = broker.huey
    job, task = revoked_while_its_claim_waits()
    huey.delete(task.revoke_id)  # Skipped by Huey's post-task clean-up...
    jobs.finish_behind(task, {"n": 1}, None)
    writer.flush()
    assert task.ledger_attempt.claimed is False
    assert stored(job.id).state == JobState.REVOKED.value
    assert huey.storage.peek_data(task.revoke_id) is EmptyData  # ...and done with the refusal.


@pytest.mark.parametrize("how", ["checkpoint", "failure"])
def test_a_revoked_attempt_refused_in_its_own_thread_loses_its_broker_flag_too(writer, how):
    # The refusal is settled in the attempt's own thread (its first checkpoint, or the
    # hook before a failure is written), where Huey's delete of the flag is skipped.
    huey = broker.huey
    job, task = revoked_while_its_claim_waits()
    if how == "checkpoint":
        with pytest.raises(jobs.LeaseLost):
            jobs.checkpoint(1, 10, force=True)
    else:
        assert jobs.finish_behind(task, None, RuntimeError("boom"))
        assert jobs.current_task() is None
    assert task.ledger_attempt.claimed is False
    assert stored(job.id).state == JobState.REVOKED.value
    assert huey.storage.peek_data(task.revoke_id) is EmptyData


def test_a_refusal_that_cannot_be_settled_does_not_stop_the_others(writer, monkeypatch, caplog):
    first, second = new_job(), new_job()
    tasks = [task_for(first.id), task_for(second.id)]
    for task in tasks:
        assert jobs.claim_behind(task)
        jobs.finish_behind(task, None, None)
    db.session.execute(sa.update(Job).values(state=JobState.REVOKED.value))
    db.session.commit()
    settled = []

    def settle(attempt, finish):
        settled.append(attempt.task.id)
        if attempt.task.id == first.id:
            raise RuntimeError("database hiccup")

    monkeypatch.setattr(writer, "on_refused", settle)
    writer.flush()  # Does not raise: the batch itself was written.
    assert settled == [first.id, second.id]
    assert f"job {first.id}: settling its refused claim failed" in caplog.text


def test_progress_writes_the_claim_first_and_the_outcome_at_once(writer):
    job = new_job()
    task = task_for(job.id)
    jobs.claim_behind(task)
    jobs.checkpoint(1, 4, "Working", force=True)
    row = stored(job.id)
    assert (row.state, row.progress_done, row.progress_total) == (JobState.STARTED.value, 1, 4)
    # Its success is written before the hook returns (by the writer, in one statement):
    assert jobs.finish_behind(task, {"done": 4}, None)
    row = stored(job.id)
    assert (row.state, row.result, row.attempts) == (JobState.SUCCESS.value, {"done": 4}, 1)
    assert [state for state, _ in events_of(job.id)] == ["PENDING", "STARTED", "SUCCESS"]
    assert writer._pending == []


def test_a_durable_success_waits_for_the_database_then_lands_with_the_next_write(
        writer, monkeypatch):
    job = new_job()
    task = task_for(job.id)
    jobs.claim_behind(task)
    jobs.claim_now()
    real_write = writer._write

    def unreachable(*args):
        raise sa.exc.OperationalError("UPDATE", {}, Exception("server closed the connection"))

    monkeypatch.setattr(writer, "_write", unreachable)
    monkeypatch.setattr(writer, "_success_at_once", unreachable)
    assert jobs.finish_behind(task, {"done": 1}, None)  # Logged, not raised into Huey.
    assert stored(job.id).state == JobState.STARTED.value
    assert writer._pending  # Waits for the writer's thread.
    monkeypatch.setattr(writer, "_write", real_write)
    writer.flush()
    assert stored(job.id).state == JobState.SUCCESS.value
    assert stored(job.id).result == {"done": 1}
    assert [state for state, _ in events_of(job.id)] == ["PENDING", "STARTED", "SUCCESS"]


def _written(job_id: str) -> tuple:
    """What the ledger holds of a finished attempt, less its times and ids."""
    row = stored(job_id)
    return ((row.state, row.attempts, row.worker_id, row.progress_done, row.progress_message,
             row.result, row.error, row.runtime_seconds if row.finished_at is None else None,
             row.heartbeat_at == (row.finished_at or row.started_at),
             row.finished_at is None or row.started_at <= row.finished_at),
            [(e.state, e.message, e.worker_id) for e in db.session.scalars(
                sa.select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))])


@pytest.mark.parametrize("value", [None, {"slept": 0}, 7, "text"])
def test_a_durable_attempt_written_at_once_reads_as_one_written_by_the_batch(writer, value):
    """Claim and success by the attempt's own thread (one statement each) leave the job
    row and its timeline as the batch statement does: old path and new, side by side."""
    batch_job, alone_job = new_job(), new_job()
    # Both retried after a failed attempt that reported progress: what the claim resets.
    db.session.execute(sa.update(Job).where(Job.id.in_([batch_job.id, alone_job.id])).values(
        state=JobState.RETRY.value, attempts=1, progress_done=5, progress_message="half",
        error="RuntimeError: boom", runtime_seconds=9.5, result={"old": 1}))
    db.session.commit()
    batched = task_for(batch_job.id)
    jobs.claim_behind(batched)
    writer.flush()  # The batch's claim...
    alone = task_for(alone_job.id)
    jobs.claim_behind(alone)
    jobs.claim_now()
    assert stored(alone_job.id).state == JobState.STARTED.value
    assert stored(alone_job.id).started_at == alone.ledger_started_at
    assert _written(alone_job.id) == _written(batch_job.id)
    writer.succeed(batched.ledger_attempt, utcnow(), 0.001, value)
    writer.flush()  # ... and its success, as the durable path wrote them before.
    assert jobs.finish_behind(alone, value, None)
    assert _written(alone_job.id) == _written(batch_job.id)
    assert _written(alone_job.id)[0][:2] == (JobState.SUCCESS.value, 2)
    assert writer._pending == []


def test_a_durable_claim_is_written_alone_and_leaves_the_others_to_the_batch(writer):
    others = [new_job() for _ in range(3)]
    for job in others:
        jobs.claim_behind(task_for(job.id))
    job = new_job()
    task = task_for(job.id)
    jobs.claim_behind(task)
    jobs.claim_now()
    assert stored(job.id).state == JobState.STARTED.value
    assert {stored(other.id).state for other in others} == {JobState.PENDING.value}
    assert [a.task.id for a in writer._pending] == [other.id for other in others]
    writer.flush()
    assert {stored(other.id).state for other in others} == {JobState.STARTED.value}


def test_a_durable_claim_a_batch_has_taken_waits_for_that_batch(writer, monkeypatch):
    job = new_job()
    task = task_for(job.id)
    jobs.claim_behind(task)
    attempt = task.ledger_attempt
    with writer._lock:  # As `flush` does when it takes the batch, before it writes it.
        batch = [(a, a.finish) for a in writer._pending]
        for a, _ in batch:
            a.queued = False
        writer._pending = []
    assert not writer._take(attempt)

    def written_by_that_batch():
        writer._write(batch)

    monkeypatch.setattr(writer, "flush", written_by_that_batch)
    assert writer.settle(attempt)
    assert stored(job.id).state == JobState.STARTED.value


def test_a_second_delivery_refused_at_once_runs_nothing(writer):
    job = new_job()
    first = task_for(job.id)
    jobs.claim_behind(first)
    jobs.claim_now()
    again = task_for(job.id)
    jobs.claim_behind(again)
    with pytest.raises(jobs.LeaseLost):
        jobs.claim_now()
    assert again.ledger_attempt.claimed is False
    assert jobs.finish_behind(first, {"run": 1}, None)
    row = stored(job.id)
    assert (row.state, row.attempts, row.result) == (JobState.SUCCESS.value, 1, {"run": 1})
    assert [state for state, _ in events_of(job.id)] == ["PENDING", "STARTED", "SUCCESS"]


def test_a_durable_claim_the_database_refuses_waits_for_the_batch(writer, monkeypatch):
    job = new_job()
    task = task_for(job.id)
    jobs.claim_behind(task)

    def unreachable(*args):
        raise sa.exc.OperationalError("UPDATE", {}, Exception("server closed the connection"))

    monkeypatch.setattr(writer, "_claim_at_once", unreachable)
    with pytest.raises(sa.exc.OperationalError):
        jobs.claim_now()  # The task's effect does not run.
    assert stored(job.id).state == JobState.PENDING.value
    assert [a.task.id for a in writer._pending] == [job.id] and not writer.healthy
    writer.flush()
    assert stored(job.id).state == JobState.STARTED.value and writer.healthy


def test_a_durable_attempt_taken_over_records_nothing_at_once(writer):
    job = new_job()
    task = task_for(job.id)
    jobs.claim_behind(task)
    jobs.claim_now()
    db.session.execute(sa.update(Job).where(Job.id == job.id).values(
        started_at=utcnow(), worker_id="another:1"))  # Recovery gave it to another attempt.
    db.session.commit()
    assert jobs.finish_behind(task, {"late": True}, None)
    row = stored(job.id)
    assert (row.state, row.worker_id, row.result) == (JobState.STARTED.value, "another:1", None)


def test_a_lost_connection_of_a_thread_is_replaced(writer):
    if not writer._postgres:
        pytest.skip("a kept connection is PostgreSQL's")
    import psycopg  # noqa: PLC0415
    first = task_for(new_job().id)
    jobs.claim_behind(first)
    jobs.claim_now()
    jobs.finish_behind(first, None, None)
    own = writer._own.conn
    with db.engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                     {"pid": own.connection.dbapi_connection.info.backend_pid})
    job = new_job()
    task = task_for(job.id)
    jobs.claim_behind(task)
    with pytest.raises(psycopg.OperationalError):  # Raised as the batch's own write raises it.
        jobs.claim_now()
    assert writer._own.conn is None
    assert not jobs.finish_behind(task, None, RuntimeError("claim failed"))  # Written first:
    assert stored(job.id).state == JobState.STARTED.value  # on a new connection.
    assert writer._own.conn is not None and writer._own.conn is not own


def test_a_durable_failure_is_still_written_by_the_synchronous_path(writer):
    job = new_job()
    task = task_for(job.id)
    jobs.claim_behind(task)
    jobs.claim_now()
    assert not jobs.finish_behind(task, None, RuntimeError("boom"))


def test_a_fence_after_a_refused_claim_stops_the_effect(writer):
    job = new_job()
    first = task_for(job.id)
    jobs.claim_behind(first)
    jobs.finish_behind(first, None, None)
    writer.flush()
    duplicate = task_for(job.id)
    jobs.claim_behind(duplicate)
    with pytest.raises(jobs.LeaseLost):
        jobs.fence()
    db.session.rollback()
    assert stored(job.id).attempts == 1


def test_a_failure_is_written_synchronously_with_its_traceback(writer):
    job = new_job()
    task = task_for(job.id)
    jobs.claim_behind(task)
    try:
        raise ValueError("bad month")
    except ValueError as exc:
        error = exc
    assert not jobs.finish_behind(task, None, error)
    jobs.finish(task, None, error)
    row = stored(job.id)
    assert row.state == JobState.FAILURE.value
    assert "ValueError: bad month" in row.error and "Traceback" in row.traceback


def test_an_interrupted_attempt_written_behind_goes_back_on_the_queue(writer):
    job = new_job()
    jobs.dispatch([job.id])
    task = task_for(job.id)
    broker.huey.dequeue()
    jobs.claim_behind(task)
    jobs.on_interrupted(task)
    row = stored(job.id)
    assert (row.state, row.attempts) == (JobState.PENDING.value, 0)
    assert job.id in queued_task_ids(broker.huey)


def test_a_failed_write_keeps_every_transition_for_the_next_one(writer, monkeypatch):
    job = new_job()
    task = task_for(job.id)
    jobs.claim_behind(task)
    jobs.finish_behind(task, None, None)
    real_write = writer._write

    def unreachable(batch):
        raise sa.exc.OperationalError("UPDATE", {}, Exception("database is down"))

    monkeypatch.setattr(writer, "_write", unreachable)
    with pytest.raises(sa.exc.OperationalError):
        writer.flush()
    assert not writer.healthy
    assert not jobs.claim_behind(task_for(new_job().id))  # Claims go the synchronous way.
    monkeypatch.setattr(writer, "_write", real_write)
    writer.flush()
    assert writer.healthy and stored(job.id).state == JobState.SUCCESS.value


def test_closing_the_writer_writes_what_waits_and_later_successes_at_once(writer):
    job = new_job()
    task = task_for(job.id)
    jobs.claim_behind(task)
    writer.close()
    assert stored(job.id).state == JobState.STARTED.value
    jobs.finish_behind(task, None, None)
    assert stored(job.id).state == JobState.SUCCESS.value
    assert not writer.accepts("noop")


def test_the_web_app_and_immediate_mode_have_no_writer(tmp_path, sqlite_url):
    app = make_app(base_config(tmp_path, sqlite_url, HUEY_IMMEDIATE=True))
    with app.app_context():
        jobs.start_ledger_writer(app)
        assert ledger_writer.current() is None
        job = new_job()
        assert not jobs.claim_behind(task_for(job.id))


# --- The real consumer ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_the_consumer_writes_behind_on_redis_and_postgresql(
        tmp_path, pg_url, redis_queue, start_consumer, worker_type):
    redis_url, name = redis_queue
    app = make_app(base_config(tmp_path, pg_url, REDIS_URL=redis_url, HUEY_NAME=name))
    with app.app_context():
        created = [jobs.create_job("noop", args=(0,)) for _ in range(60)]
        created.append(jobs.create_job("diagnostic_probe", args=("k", 0.0)))
        ids = [job.id for job in created]
        jobs.commit_and_dispatch(*created)
        consumer = start_consumer(app, workers=2, worker_type=worker_type)

        def done() -> bool:
            db.session.expire_all()
            return db.session.scalar(sa.select(sa.func.count()).where(
                Job.id.in_(ids), Job.state == JobState.SUCCESS.value)) == len(ids)

        wait_for(done, timeout=60, message="every job SUCCESS")
        for job_id in ids:
            assert [state for state, _ in events_of(job_id)] == ["PENDING", "STARTED", "SUCCESS"]
            assert stored(job_id).attempts == 1
        # Which path wrote them: only a synchronous claim logs "job <id> tenant ...: attempt".
        log = consumer.output()
        assert f"job {ids[-1]} tenant" in log  # The probe has an effect: written at once.
        assert not [i for i in ids[:-1] if f"job {i} tenant" in log]  # The no-ops: behind.
        # The app is built before the workers fork, and Huey's lines are still logged once.
        executing = f"Executing tasks.diagnostics.noop: {ids[0]}"
        assert len([line for line in log.splitlines() if executing in line]) == 1
        # No revoke flag is left in the broker by the 61 tasks (Huey's per-task delete of
        # it is skipped for attempts the ledger holds: none can have been set).
        huey = app.extensions["huey"]
        assert not [i for i in ids if huey.storage.peek_data(f"r:{i}") is not EmptyData]
        db.session.remove()
        db.engine.dispose()


@pytest.mark.slow
def test_successes_lost_in_a_kill_9_are_run_again_by_recovery(
        tmp_path, pg_url, redis_queue, start_consumer):
    """A crash loses only attempts that changed nothing; recovery runs them again."""
    redis_url, name = redis_queue
    app = make_app(base_config(tmp_path, pg_url, REDIS_URL=redis_url, HUEY_NAME=name,
                               ENQUEUE_GRACE_SECONDS=1))
    with app.app_context():
        created = [jobs.create_job("noop", args=(0,)) for _ in range(8)]
        ids = [job.id for job in created]
        jobs.commit_and_dispatch(*created)
        # A writer that never writes on its own: the kill finds everything still waiting.
        consumer = start_consumer(app, workers=2, LEDGER_FLUSH_SECONDS=3600,
                                  LEDGER_FLUSH_BATCH=1000)
        wait_for(lambda: broker.huey.storage.queue_size() == 0, timeout=30,
                 message="the consumer to take every task")
        time.sleep(1.0)  # No-op tasks: the last one has long finished.
        consumer.kill()
        db.session.expire_all()
        assert {stored(job_id).state for job_id in ids} == {JobState.PENDING.value}
        start_consumer(app, workers=2, ENQUEUE_GRACE_SECONDS=1)

        def done() -> bool:
            recovery.recover_lost_jobs()
            return {stored(job_id).state for job_id in ids} == {JobState.SUCCESS.value}

        wait_for(done, timeout=60, interval=1.0, message="recovery to run the lost jobs again")
        assert {stored(job_id).attempts for job_id in ids} == {1}, [
            events_of(job_id) for job_id in ids if stored(job_id).attempts != 1]
        db.session.remove()
        db.engine.dispose()


def test_every_upload_task_writes_its_claim_before_its_effect(writer):
    """Import, commit and chart sync each make their attempt durable (see ledger_writer).

    Run through the consumer's own hooks with the writer in place: an attempt left written
    behind at the end of a task would mean its effect committed before its claim.
    """
    from conftest import People  # noqa: PLC0415
    from hostile_files import valid_xlsx  # noqa: PLC0415

    from paydash.models import Upload  # noqa: PLC0415
    from paydash.services import imports  # noqa: PLC0415
    people = People(current_app._get_current_object())
    upload = imports.receive_upload(people.tenant_a, people.hr_a, "oct.xlsx", valid_xlsx(), 2024, 10)
    ran = []

    def run_next() -> None:
        task = broker.huey.dequeue()
        broker.huey.execute(task)
        ran.append(task)

    run_next()  # import_salary_sheet
    db.session.expire_all()
    assert db.session.get(Upload, upload.id).status == "preview"
    imports.confirm_upload(upload.id, people.tenant_a, people.hr_a)
    run_next()  # commit_salary_sheet
    run_next()  # sync_chart_data_batch
    writer.flush()
    assert [t.name for t in ran] == ["import_salary_sheet", "commit_salary_sheet",
                                     "sync_chart_data_batch"]
    for task in ran:
        assert task.ledger_attempt is not None and task.ledger_attempt.durable, task.name
        assert stored(task.id).state == JobState.SUCCESS.value, task.name
    assert db.session.get(Upload, upload.id).status == "confirmed"

