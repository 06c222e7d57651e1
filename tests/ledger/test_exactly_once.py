"""One job, one effect: the holes fault injection found (issue 13), one behaviour each.

The consumer's hooks are driven in-process through `huey.execute`, with the real ledger
writer, on SQLite and on PostgreSQL; faults are a real table lock or a failing read.
"""
import pytest
import sqlalchemy as sa
from conftest import base_config
from conftest import make_app

from paydash import broker
from paydash.extensions import db
from paydash.ledger import bridge
from paydash.ledger import jobs
from paydash.ledger import writer as ledger_writer
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.ledger.queue import queued_task_ids
from paydash.ledger.queue import task_wrapper
from tasks.diagnostics import probe_counts


@pytest.fixture(params=["sqlite", "postgresql"])
def hooked_app(request, tmp_path, sqlite_url):
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    app = make_app(base_config(tmp_path, url, LEDGER_FLUSH_SECONDS=3600))
    previous = bridge.use_app(app)
    with app.app_context():
        jobs.start_ledger_writer(app)
        yield app
        bridge.use_app(previous)
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
