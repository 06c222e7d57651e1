"""The job dashboard against the real consumer: failure and retry, revoke, workers."""
import datetime as dt

import pytest
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import login
from conftest import make_app
from conftest import wait_for

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger.models import Job
from paydash.ledger.models import JobEvent
from paydash.ledger.models import JobState
from paydash.models import Tenant

MISSING_TENANT = 9999


@pytest.fixture
def fast_retry_app(tmp_path, sqlite_url):
    """SQLite queue; chart syncs retry twice, one second apart."""
    app = make_app(base_config(tmp_path, sqlite_url, CHART_SYNC_RETRIES=2, CHART_SYNC_RETRY_DELAY=1))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def state_of(app, job_id: str) -> str:
    with app.app_context():
        db.session.expire_all()
        return db.session.get(Job, job_id).state


def test_chart_sync_for_a_missing_tenant_fails_then_a_dashboard_retry_succeeds(
        fast_retry_app, start_consumer):
    app = fast_retry_app
    People(app)
    with app.app_context():
        # The job row carries no tenant: the tenant does not exist (the cause of the failure).
        job = jobs.create_job("sync_chart_data_batch", args=(MISSING_TENANT, 2025, 1, "excel"),
                              queue="chart_sync", year=2025, month=1)
        jobs.commit_and_dispatch(job)
        job_id = job.id
    start_consumer(app)
    wait_for(lambda: state_of(app, job_id) == JobState.FAILURE.value, timeout=40,
             message="the chart sync to fail after its retries")
    with app.app_context():
        failed = db.session.get(Job, job_id)
        assert failed.attempts == 3
        assert "Traceback (most recent call last)" in failed.traceback
        assert f"No tenant with id {MISSING_TENANT}" in failed.traceback
        db.session.add(Tenant(id=MISSING_TENANT, name="Late Tenant", slug="late"))
        db.session.commit()
    client = login(app.test_client(), "ops@paydash.test")
    assert client.post(f"/jobs/{job_id}/retry").status_code == 302
    wait_for(lambda: state_of(app, job_id) == JobState.SUCCESS.value, timeout=30,
             message="the retried chart sync to succeed")
    with app.app_context():
        done = db.session.get(Job, job_id)
        assert (done.result["tenant_id"], done.error) == (MISSING_TENANT, None)


def test_revoked_scheduled_job_never_runs_on_redis(tmp_path, sqlite_url, redis_queue, start_consumer):
    url, name = redis_queue
    app = make_app(base_config(tmp_path, sqlite_url, REDIS_URL=url, HUEY_NAME=name))
    People(app)
    with app.app_context():
        revoked = jobs.create_job("noop", args=(0,))
        control = jobs.create_job("noop", args=(0,))
        db.session.commit()
        eta = utcnow() + dt.timedelta(seconds=2)
        revoked_id, control_id = revoked.id, control.id
        jobs.enqueue(revoked, eta=eta)
        jobs.enqueue(control, eta=eta)
    client = login(app.test_client(), "ops@paydash.test")
    assert client.post(f"/api/jobs/{revoked_id}/revoke").get_json()["ok"] is True
    start_consumer(app)
    # The control job, due at the same moment, proves the scheduler reached that time.
    wait_for(lambda: state_of(app, control_id) == JobState.SUCCESS.value, timeout=30,
             message="the control job to run")
    with app.app_context():
        job = db.session.get(Job, revoked_id)
        started = db.session.scalars(sa.select(JobEvent).where(
            JobEvent.job_id == revoked_id, JobEvent.state == JobState.STARTED.value)).all()
        assert (job.state, job.attempts, started) == (JobState.REVOKED.value, 0, [])
        db.session.remove()
        db.engine.dispose()


def test_worker_appears_on_start_and_turns_stale_after_sigkill(tmp_path, sqlite_url, start_consumer):
    app = make_app(base_config(tmp_path, sqlite_url, LEASE_SECONDS=2))
    People(app)
    client = login(app.test_client(), "ops@paydash.test")

    def statuses():
        return [w["status"] for w in client.get("/api/workers").get_json()["workers"]]

    consumer = start_consumer(app, HEARTBEAT_INTERVAL=0.5, LEASE_SECONDS=2)
    wait_for(lambda: statuses() == ["alive"], timeout=30, message="the worker to register")
    assert client.get("/api/jobs/overview").get_json()["health"]["ok"] is True
    consumer.kill()
    wait_for(lambda: statuses() == ["stale"], timeout=15, message="the worker to turn stale")
    assert client.get("/api/jobs/overview").get_json()["health"]["ok"] is False
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
