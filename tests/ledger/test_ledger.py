"""The job ledger's transitions, one behaviour each, without a running consumer.

Tasks are real Huey task instances; the hooks the consumer would call (claim, finish,
on_interrupted, recovery) are called directly, so each test takes milliseconds.
"""
import datetime as dt

import pytest
import sqlalchemy as sa
from conftest import base_config
from conftest import free_port
from conftest import make_app

from paydash import broker
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger import recovery
from paydash.ledger import workers
from paydash.ledger.models import Job
from paydash.ledger.models import JobEvent
from paydash.ledger.models import JobState
from paydash.ledger.models import PausedTask
from paydash.ledger.models import Worker
from paydash.ledger.queue import queued_task_ids
from paydash.ledger.queue import task_wrapper


@pytest.fixture
def ledger_app(queued_app):
    with queued_app.app_context():
        yield queued_app


def probe_job(key="k", seconds=0.0, **config_args) -> Job:
    job = jobs.create_job("diagnostic_probe", args=(key, seconds))
    db.session.commit()
    return job


def task_for(job: Job):
    return task_wrapper(broker.huey, job.task_name)(tuple(job.args["args"]), {}, id=job.id)


def events_of(job_id: str) -> list[str]:
    return [e.message for e in db.session.scalars(
        sa.select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))]


def backdate(job_id: str, seconds: float, **columns) -> None:
    past = utcnow() - dt.timedelta(seconds=seconds)
    db.session.execute(sa.update(Job).where(Job.id == job_id)
                       .values(**{name: past for name in columns}))
    db.session.commit()


def test_enqueue_failure_leaves_a_committed_job_that_says_it_is_queued(tmp_path, sqlite_url):
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    app = make_app(base_config(tmp_path, sqlite_url, REDIS_URL=dead_broker))
    with app.app_context():
        job = jobs.create_job("diagnostic_probe", args=("outbox", 0))
        assert jobs.commit_and_dispatch(job) is False
        db.session.expire_all()
        stored = db.session.get(Job, job.id)
        assert stored.state == JobState.PENDING.value
        assert stored.enqueued_at is None
        assert jobs.plain_status(stored) == "Queued — it will run when the worker is reachable"
        assert any(m.startswith("queued — ") for m in events_of(job.id))
        db.session.remove()
        db.engine.dispose()


def test_a_broker_failure_puts_every_job_of_a_bulk_dispatch_back_in_the_outbox(tmp_path, sqlite_url):
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    app = make_app(base_config(tmp_path, sqlite_url, REDIS_URL=dead_broker))
    with app.app_context():
        created = [jobs.create_job("diagnostic_probe", args=(f"bulk{n}", 0)) for n in range(3)]
        assert jobs.commit_and_dispatch(*created) is False
        db.session.expire_all()
        stored = db.session.scalars(sa.select(Job)).all()
        assert [job.enqueued_at for job in stored] == [None, None, None]
        db.session.remove()
        db.engine.dispose()


def test_a_bulk_dispatch_enqueues_each_job_once(ledger_app):
    created = [jobs.create_job("diagnostic_probe", args=(f"bulk{n}", 0)) for n in range(3)]
    ids = [job.id for job in created]
    assert jobs.commit_and_dispatch(*created) is True
    assert jobs.dispatch(ids) is True  # Already reserved: nothing enqueued twice.
    assert len(broker.huey.storage.enqueued_items()) == 3
    assert set(ids) <= queued_task_ids(broker.huey)
    assert all(db.session.get(Job, i).enqueued_at is not None for i in ids)


def test_a_paused_tasks_job_is_not_claimed(ledger_app):
    job = probe_job()
    db.session.add(PausedTask(task_name=job.task_name, paused_at=utcnow()))
    db.session.commit()
    with pytest.raises(jobs.Skip) as skip:
        jobs.claim(task_for(job))
    assert skip.value.reschedule
    db.session.expire_all()
    assert db.session.get(Job, job.id).state == JobState.PENDING.value


def test_recovery_enqueues_a_job_the_broker_never_received(ledger_app):
    job = probe_job()
    backdate(job.id, 30, created_at=True)
    report = recovery.recover_lost_jobs()
    assert report.enqueued_outbox == [job.id]
    assert job.id in queued_task_ids(broker.huey)


def test_a_second_delivery_of_a_claimed_job_is_skipped(ledger_app):
    job = probe_job()
    jobs.claim(task_for(job))
    with pytest.raises(jobs.Skip):
        jobs.claim(task_for(job))
    assert db.session.get(Job, job.id).attempts == 1


def test_silent_worker_job_is_requeued_and_counts_as_an_attempt(ledger_app):
    job = probe_job()
    jobs.claim(task_for(job))
    backdate(job.id, 61, heartbeat_at=True)
    report = recovery.recover_lost_jobs()
    db.session.expire_all()
    stored = db.session.get(Job, job.id)
    assert report.requeued_dead_worker == [job.id]
    assert (stored.state, stored.attempts) == (JobState.PENDING.value, 1)
    assert "stopped heart-beating 61 s ago; re-enqueued (attempt 1 of 3 used)" in events_of(job.id)[-1]
    assert job.id in queued_task_ids(broker.huey)


def test_silent_worker_job_fails_once_its_attempts_are_spent(ledger_app):
    job = probe_job()
    db.session.execute(sa.update(Job).where(Job.id == job.id).values(max_attempts=1))
    db.session.commit()
    jobs.claim(task_for(job))
    backdate(job.id, 90, heartbeat_at=True)
    recovery.recover_lost_jobs()
    db.session.expire_all()
    stored = db.session.get(Job, job.id)
    assert stored.state == JobState.FAILURE.value
    assert stored.error.startswith("Worker lost: worker ")
    assert events_of(job.id)[-1].endswith("all 1 attempts used")


def test_heart_beating_job_is_left_alone(ledger_app):
    job = probe_job()
    task = task_for(job)
    jobs.claim(task)
    backdate(job.id, 61, heartbeat_at=True)
    workers.beat([task.id])
    assert recovery.recover_lost_jobs().requeued_dead_worker == []


def test_job_of_a_process_gone_from_this_host_is_released_without_waiting(ledger_app):
    job = probe_job()
    jobs.claim(task_for(job))
    gone = Worker(id="this-host:4194311:dead", host="this-host", pid=2**22 + 7,
                  machine=workers.MACHINE, worker_type="thread", heartbeat_at=utcnow())
    db.session.add(gone)
    db.session.execute(sa.update(Job).where(Job.id == job.id).values(worker_id=gone.id))
    db.session.commit()
    report = recovery.recover_lost_jobs()
    assert report.requeued_dead_worker == [job.id]
    assert "is no longer running" in events_of(job.id)[-1]


def test_interrupted_job_goes_back_on_the_queue_without_using_an_attempt(ledger_app):
    job = probe_job()
    task = task_for(job)
    jobs.claim(task)
    jobs.on_interrupted(task)
    db.session.expire_all()
    stored = db.session.get(Job, job.id)
    assert (stored.state, stored.attempts) == (JobState.PENDING.value, 0)
    assert stored.enqueued_at is not None
    assert job.id in queued_task_ids(broker.huey)


def test_a_stale_attempt_cannot_finish_a_job_claimed_again(ledger_app):
    job = probe_job()
    stale = task_for(job)
    jobs.claim(stale)
    jobs.on_interrupted(stale)
    fresh = task_for(job)
    jobs.claim(fresh)
    jobs.finish(stale, {"stale": True}, None)
    db.session.expire_all()
    assert db.session.get(Job, job.id).state == JobState.STARTED.value


def test_a_stale_attempt_cannot_commit_its_effect(ledger_app):
    job = probe_job()
    stale = task_for(job)
    jobs.claim(stale)
    jobs.on_interrupted(stale)
    jobs.claim(task_for(job))
    jobs._local.task = stale
    with pytest.raises(jobs.LeaseLost):
        jobs.fence()


def test_job_the_queue_no_longer_holds_is_requeued(ledger_app):
    job = probe_job()
    backdate(job.id, 600, created_at=True, enqueued_at=True)
    report = recovery.recover_lost_jobs()
    assert report.requeued_lost == [job.id]
    assert "broker data lost" in events_of(job.id)[-1]
    assert job.id in queued_task_ids(broker.huey)


def test_a_job_finished_while_recovery_runs_is_not_put_back(ledger_app, monkeypatch):
    """Recovery acts on the state that made a job a candidate, not on what it reads later."""
    first, second = probe_job("a"), probe_job("b")
    for job in (first, second):
        backdate(job.id, 600, created_at=True, enqueued_at=True)

    def held_ids(huey):  # Meanwhile a worker finishes the second job.
        with db.engine.begin() as conn:
            conn.execute(sa.update(Job).where(Job.id == second.id).values(
                state=JobState.SUCCESS.value, attempts=1, finished_at=utcnow()))
        return set()

    monkeypatch.setattr(recovery, "queued_task_ids", held_ids)
    report = recovery.recover_lost_jobs()
    assert report.requeued_lost == [first.id]
    db.session.expire_all()
    assert db.session.get(Job, second.id).state == JobState.SUCCESS.value


def test_job_the_queue_still_holds_is_not_requeued(ledger_app):
    job = probe_job()
    jobs.dispatch([job.id])
    backdate(job.id, 600, created_at=True, enqueued_at=True)
    assert recovery.recover_lost_jobs().requeued_lost == []


def test_periodic_slot_is_the_scheduled_minute_whichever_second_it_was_enqueued(ledger_app):
    cleanup = task_wrapper(broker.huey, "cleanup_old_chart_data")()
    sunday = dt.datetime(2025, 1, 5, 2, 0)
    early = jobs.periodic_slot(cleanup, sunday + dt.timedelta(seconds=1))
    late = jobs.periodic_slot(cleanup, sunday + dt.timedelta(minutes=1, seconds=0.05))
    assert early == late == sunday.isoformat()


def test_second_consumers_run_of_the_weekly_cleanup_is_skipped(ledger_app):
    sunday = dt.datetime(2025, 1, 5, 2, 0)
    runs = []
    for enqueued in (sunday + dt.timedelta(seconds=40), sunday + dt.timedelta(seconds=61)):
        task = task_wrapper(broker.huey, "cleanup_old_chart_data")()
        jobs.on_enqueued(task)
        db.session.execute(sa.update(Job).where(Job.id == task.id).values(enqueued_at=enqueued))
        db.session.commit()
        runs.append(task)
    jobs.claim(runs[0], is_periodic=True)
    with pytest.raises(jobs.Skip):
        jobs.claim(runs[1], is_periodic=True)
    db.session.expire_all()
    assert db.session.get(Job, runs[1].id).state == JobState.REVOKED.value


def test_a_second_delivery_of_a_running_periodic_job_leaves_it_running(ledger_app):
    task = task_wrapper(broker.huey, "cleanup_old_chart_data")()
    jobs.on_enqueued(task)
    jobs.claim(task, is_periodic=True)
    with pytest.raises(jobs.Skip):
        jobs.claim(task, is_periodic=True)
    db.session.expire_all()
    assert db.session.get(Job, task.id).state == JobState.STARTED.value


def test_every_worker_of_a_consumer_shares_one_worker_row(ledger_app):
    for _ in range(3):
        workers.register("process", 3, "sqlite")
    rows = db.session.scalars(sa.select(Worker)).all()
    assert [row.id for row in rows] == [workers.current_worker_id()]
