"""The flask commands: accounts, queue check, job status, periodic list and doctor."""
import json
import re

import pytest
from conftest import wait_for

from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.models import Tenant
from paydash.models import User


@pytest.fixture
def queued_runner(queued_app):
    return queued_app.test_cli_runner()


def test_create_tenant_and_user(queued_app, queued_runner):
    result = queued_runner.invoke(args=["create-tenant", "Kaveri Foods", "--slug", "kaveri"])
    assert result.exit_code == 0, result.output
    result = queued_runner.invoke(args=["create-user", "hr@kaveri.test", "--tenant", "kaveri",
                                        "--password", "long-enough-1", "--name", "Kala"])
    assert result.exit_code == 0, result.output
    with queued_app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "hr@kaveri.test"))
        assert user.role == "hr"
        assert db.session.get(Tenant, user.tenant_id).slug == "kaveri"


def test_create_user_for_unknown_tenant_says_so(queued_runner):
    result = queued_runner.invoke(args=["create-user", "x@y.test", "--tenant", "nope",
                                        "--password", "long-enough-1"])
    assert result.exit_code != 0
    assert "No tenant 'nope'" in result.output


def test_duplicate_tenant_slug_is_a_clear_error(queued_runner):
    queued_runner.invoke(args=["create-tenant", "Kaveri Foods", "--slug", "kaveri"])
    result = queued_runner.invoke(args=["create-tenant", "Kaveri Two", "--slug", "kaveri"])
    assert result.exit_code != 0
    assert "already exists" in result.output


def test_sync_chart_prints_a_job_id_that_job_status_shows(queued_app, queued_runner):
    queued_runner.invoke(args=["create-tenant", "Kaveri Foods", "--slug", "kaveri"])
    result = queued_runner.invoke(args=["sync-chart", "kaveri", "2026", "10"])
    assert result.exit_code == 0, result.output
    job_id = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f-]{36}", job_id)
    assert queued_app.extensions["huey"].storage.queue_size() == 1
    status = queued_runner.invoke(args=["job-status", job_id])
    body = json.loads(status.output)
    assert body["state"] == "PENDING" and body["task"] == "sync_chart_data_batch"
    assert (body["year"], body["month"]) == (2026, 10)


def test_periodic_lists_schedules_in_words_with_next_run(queued_runner):
    result = queued_runner.invoke(args=["periodic"])
    assert result.exit_code == 0, result.output
    line = next(l for l in result.output.splitlines() if l.startswith("cleanup_old_chart_data"))
    assert "Sundays at 02:00" in line
    assert re.search(r"next: \d{4}-\d\d-\d\d 02:00", line)
    assert any(l.startswith("recover_lost_jobs") and "Every minute" in l
               for l in result.output.splitlines())


def test_periodic_lists_a_task_without_a_paydash_schedule(queued_runner, monkeypatch):
    monkeypatch.setattr("paydash.cli._schedule_of", lambda task_class: None)
    result = queued_runner.invoke(args=["periodic"])
    assert result.exit_code == 0, result.output
    line = next(l for l in result.output.splitlines() if l.startswith("cleanup_old_chart_data"))
    assert "custom" in line and line.endswith("next: -")


def test_doctor_fails_without_a_live_worker(queued_runner):
    result = queued_runner.invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "database  ok" in result.output
    assert "broker    ok" in result.output
    assert "workers   FAIL" in result.output


@pytest.mark.slow
def test_doctor_passes_with_a_running_consumer(queued_app, queued_runner, start_consumer):
    start_consumer(queued_app, workers=1)
    from paydash.ledger.models import Worker
    with queued_app.app_context():
        wait_for(lambda: db.session.scalar(db.select(Worker)) or db.session.rollback(),
                 timeout=30, message="the consumer's worker row")
    result = queued_runner.invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "1 alive" in result.output
    assert "imports: 0 pending" in result.output


@pytest.mark.slow
def test_queued_chart_sync_for_missing_tenant_fails_in_the_ledger(queued_app, queued_runner,
                                                                  start_consumer):
    """The queue check end to end: a real consumer picks the job up and the ledger records it."""
    queued_app.config.update(CHART_SYNC_RETRIES=0)
    with queued_app.app_context():
        from paydash.charts import aggregation
        job = aggregation.request_sync(999, 2026, 1, "excel", requested_by_id=None)
        job_id = job.id
    start_consumer(queued_app, workers=1)

    def finished():
        with queued_app.app_context():
            found = db.session.get(Job, job_id)
            state = found.state if found else None
            db.session.rollback()
            return state if state in ("SUCCESS", "FAILURE") else None

    assert wait_for(finished, timeout=30, message="the chart sync to finish") == "FAILURE"
