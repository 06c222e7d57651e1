"""The job dashboard without a consumer: pages, JSON, actions, access, metrics, retention."""
import datetime as dt

import pytest
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import free_port
from conftest import login
from conftest import make_app
from prometheus_client.parser import text_string_to_metric_families

from paydash import broker
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger import stats
from paydash.ledger.models import Job
from paydash.ledger.models import JobEvent
from paydash.ledger.models import JobState
from paydash.ledger.models import PausedTask
from paydash.ledger.models import Worker
from paydash.ledger.queue import queued_task_ids
from paydash.ledger.queue import task_wrapper
from paydash.models import AuditLog
from paydash.services import retention


@pytest.fixture
def people_q(queued_app):
    return People(queued_app)


def as_user(app, email):
    return login(app.test_client(), email)


def add_job(app, *, state=JobState.PENDING.value, tenant_id=None, requested_by_id=None,
            task="noop", error=None, finished_ago=None, **values) -> str:
    """A ledger row in a given state, as the hooks would have left it."""
    with app.app_context():
        job = jobs.create_job(task, args=(0,), tenant_id=tenant_id, requested_by_id=requested_by_id)
        job.state = state
        job.error = error
        if error:
            job.traceback = f"Traceback (most recent call last):\n  ...\nRuntimeError: {error}"
        if finished_ago is not None:
            job.finished_at = utcnow() - dt.timedelta(days=finished_ago)
            job.runtime_seconds = 0.5
        for name, value in values.items():
            setattr(job, name, value)
        db.session.commit()
        return job.id


def job_state(app, job_id):
    with app.app_context():
        return db.session.get(Job, job_id).state


def test_operator_overview_counts_pending_per_queue_and_failures(queued_app, people_q):
    add_job(queued_app)
    add_job(queued_app, state=JobState.FAILURE.value, error="boom", finished_at=utcnow(),
            runtime_seconds=1.0)
    add_job(queued_app, state=JobState.SUCCESS.value, finished_at=utcnow(), runtime_seconds=2.0)
    data = as_user(queued_app, "ops@paydash.test").get("/api/jobs/overview").get_json()
    assert data["pending"]["maintenance"] == 1
    assert data["last_24h"] == {"succeeded": 1, "failed": 1, "error_rate": 0.5}
    assert [r["task"] for r in data["runtimes"]] == ["noop"]
    assert len(data["per_minute"]) == 60 and len(data["per_hour"]) == 168


def test_overview_shows_a_health_problem_when_no_worker_heartbeats(queued_app, people_q):
    data = as_user(queued_app, "ops@paydash.test").get("/api/jobs/overview").get_json()
    assert not data["health"]["ok"]
    assert any("heartbeat" in p for p in data["health"]["problems"])


def test_overview_page_renders_for_operators(queued_app, people_q):
    page = as_user(queued_app, "ops@paydash.test").get("/jobs/")
    assert page.status_code == 200
    assert b'id="jobs-overview"' in page.data and b"Oldest pending" in page.data


def test_jobs_list_filters_by_state_and_error_text(queued_app, people_q):
    failed = add_job(queued_app, state=JobState.FAILURE.value, error="Tenant 42 does not exist")
    add_job(queued_app, state=JobState.FAILURE.value, error="something else")
    add_job(queued_app)
    client = as_user(queued_app, "ops@paydash.test")
    body = client.get("/api/jobs?state=FAILURE&error=tenant 42").get_json()
    assert [j["id"] for j in body["jobs"]] == [failed]
    assert body["filters"] == {"state": "FAILURE", "error": "tenant 42"}


@pytest.mark.parametrize("number", ["²", "١٢", "x"])
def test_a_tenant_or_upload_filter_that_is_not_a_plain_number_finds_nothing(queued_app, people_q, number):
    add_job(queued_app, tenant_id=people_q.tenant_a)
    client = as_user(queued_app, "ops@paydash.test")
    for name in ("tenant", "upload"):
        response = client.get(f"/api/jobs?{name}={number}")
        assert response.status_code == 200, response.data[-300:]
        assert response.get_json()["jobs"] == []
        assert client.get(f"/jobs?{name}={number}", follow_redirects=True).status_code == 200


def test_jobs_list_finds_a_job_by_id_prefix(queued_app, people_q):
    wanted = add_job(queued_app)
    add_job(queued_app)
    body = as_user(queued_app, "ops@paydash.test").get(f"/api/jobs?id={wanted[:6]}").get_json()
    assert [j["id"] for j in body["jobs"]] == [wanted]


def test_jobs_list_pages_newest_first_with_a_cursor(queued_app, people_q):
    ids = [add_job(queued_app, created_at=utcnow() - dt.timedelta(minutes=i)) for i in range(5)]
    client = as_user(queued_app, "ops@paydash.test")
    first = client.get("/api/jobs?limit=3").get_json()
    second = client.get(f"/api/jobs?limit=3&cursor={first['next_cursor']}").get_json()
    assert [j["id"] for j in first["jobs"] + second["jobs"]] == ids
    assert second["next_cursor"] is None


def test_jobs_list_page_keeps_filters_in_links(queued_app, people_q):
    add_job(queued_app, state=JobState.FAILURE.value, error="x")
    page = as_user(queued_app, "ops@paydash.test").get("/jobs/list?state=FAILURE&task=noop")
    assert page.status_code == 200
    assert b"all=1" in page.data and b"state=FAILURE" in page.data and b"task=noop" in page.data


def test_job_detail_shows_traceback_timeline_and_who_started_it(queued_app, people_q):
    job_id = add_job(queued_app, state=JobState.FAILURE.value, error="RuntimeError: boom",
                     requested_by_id=people_q.admin_a, tenant_id=people_q.tenant_a, year=2025, month=3)
    page = as_user(queued_app, "ops@paydash.test").get(f"/jobs/{job_id}")
    assert page.status_code == 200
    for text in (b"Traceback (most recent call last)", b"Anil Admin", b"Acme Traders", b"2025-03",
                 b"created", b"Retry"):
        assert text in page.data, text
    # The month links to the dashboard showing that month, not to the default period.
    assert b"period=custom&amp;from=2025-03&amp;to=2025-03" in page.data


def test_job_events_json_lists_the_timeline(queued_app, people_q):
    job_id = add_job(queued_app)
    body = as_user(queued_app, "ops@paydash.test").get(f"/api/jobs/{job_id}/events").get_json()
    assert [e["message"] for e in body["events"]] == ["created"]
    assert body["job"]["display_state"] == JobState.PENDING.value


def test_started_job_with_a_silent_worker_shows_as_worker_lost(queued_app, people_q):
    old = utcnow() - dt.timedelta(minutes=5)
    job_id = add_job(queued_app, state=JobState.STARTED.value, started_at=old, heartbeat_at=old,
                     worker_id="gone:1")
    body = as_user(queued_app, "ops@paydash.test").get(f"/api/jobs/{job_id}/events").get_json()
    assert body["job"]["display_state"] == "WORKER_LOST"


def test_job_live_json_has_state_progress_and_timings_but_no_events_or_traceback(queued_app, people_q):
    now = utcnow()
    job_id = add_job(queued_app, state=JobState.STARTED.value, started_at=now - dt.timedelta(seconds=10),
                     heartbeat_at=now, worker_id="elsewhere:1", attempts=2, max_attempts=3,
                     progress_done=50, progress_total=200, progress_message="Checking rows")
    client = as_user(queued_app, "ops@paydash.test")
    body = client.get(f"/api/jobs/{job_id}/live").get_json()
    assert set(body) == {"job"}
    job = body["job"]
    assert (job["id"], job["display_state"], job["attempts"], job["max_attempts"]) == (
        job_id, JobState.STARTED.value, 2, 3)
    progress = job["progress"]
    assert (progress["done"], progress["total"], progress["message"], progress["percent"]) == (
        50, 200, "Checking rows", 25.0)
    assert 4 < progress["rate"] < 6 and 25 < progress["eta_seconds"] < 40
    assert 9 < job["timings"]["running"] < 30
    assert not {"events", "links", "traceback"} & set(job)

    failed = add_job(queued_app, state=JobState.FAILURE.value, error="RuntimeError: boom")
    response = client.get(f"/api/jobs/{failed}/live")
    assert response.get_json()["job"]["display_state"] == JobState.FAILURE.value
    assert b"most recent call last" not in response.data and b'"events"' not in response.data


def test_retry_confirmation_page_shows_what_the_job_already_did(queued_app, people_q):
    job_id = add_job(queued_app, state=JobState.FAILURE.value, error="boom")
    page = as_user(queued_app, "ops@paydash.test").get(f"/jobs/{job_id}/retry")
    assert b"What it already did" in page.data and b'method="post"' in page.data
    assert job_state(queued_app, job_id) == JobState.FAILURE.value


def test_retry_post_requeues_the_job_and_writes_an_audit_entry(queued_app, people_q):
    job_id = add_job(queued_app, state=JobState.FAILURE.value, error="boom")
    response = as_user(queued_app, "ops@paydash.test").post(f"/jobs/{job_id}/retry")
    assert response.status_code == 302
    with queued_app.app_context():
        job = db.session.get(Job, job_id)
        assert (job.state, job.error) == (JobState.PENDING.value, None)
        assert job_id in queued_task_ids(broker.huey)
        entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "job_retry"))
        assert (entry.target, entry.user_id, entry.ip) == (job_id, people_q.operator, "127.0.0.1")


def test_bulk_retry_of_all_failed_matching_the_filter(queued_app, people_q):
    a = add_job(queued_app, state=JobState.FAILURE.value, error="one")
    b = add_job(queued_app, state=JobState.FAILURE.value, error="two")
    done = add_job(queued_app, state=JobState.SUCCESS.value)
    # Failed too, but outside the filter: it must stay failed.
    other = add_job(queued_app, state=JobState.FAILURE.value, error="three",
                    task="sync_chart_data_batch")
    client = as_user(queued_app, "ops@paydash.test")
    client.post("/jobs/bulk-retry", data={"all": "1", "task": "noop"})
    assert [job_state(queued_app, i) for i in (a, b, done, other)] == [
        "PENDING", "PENDING", "SUCCESS", "FAILURE"]
    with queued_app.app_context():
        assert {a, b} <= queued_task_ids(broker.huey)  # really back on the queue


def test_revoke_sets_the_job_revoked_so_no_worker_claims_it(queued_app, people_q):
    job_id = add_job(queued_app)
    as_user(queued_app, "ops@paydash.test").post(f"/api/jobs/{job_id}/revoke")
    assert job_state(queued_app, job_id) == JobState.REVOKED.value
    with queued_app.app_context():
        assert broker.huey.is_revoked(task_wrapper(broker.huey, "noop")((), {}, id=job_id))


def test_revoke_all_pending_of_a_task_name(queued_app, people_q):
    ids = [add_job(queued_app) for _ in range(3)]
    running = add_job(queued_app, state=JobState.STARTED.value)
    other_task = add_job(queued_app, task="sync_chart_data_batch")
    body = as_user(queued_app, "ops@paydash.test").post("/api/tasks/noop/revoke-pending").get_json()
    assert body["revoked"] == 3
    assert {job_state(queued_app, i) for i in ids} == {JobState.REVOKED.value}
    assert job_state(queued_app, running) == JobState.STARTED.value
    assert job_state(queued_app, other_task) == JobState.PENDING.value
    with queued_app.app_context():
        revoked_events = db.session.scalars(sa.select(JobEvent.job_id).where(
            JobEvent.state == JobState.REVOKED.value)).all()
        assert sorted(revoked_events) == sorted(ids)
        assert all(broker.huey.is_revoked(task_wrapper(broker.huey, "noop")((), {}, id=i))
                   for i in ids)


def test_pause_and_resume_a_task_name(queued_app, people_q):
    client = as_user(queued_app, "ops@paydash.test")
    client.post("/jobs/tasks/noop/pause")
    with queued_app.app_context():
        assert db.session.get(PausedTask, "noop") is not None
    client.post("/jobs/tasks/noop/resume")
    with queued_app.app_context():
        assert db.session.get(PausedTask, "noop") is None
        actions = list(db.session.scalars(sa.select(AuditLog.action).order_by(AuditLog.id)))
        assert actions[-2:] == ["task_pause", "task_resume"]


def test_run_periodic_now_creates_a_manual_job(queued_app, people_q):
    body = as_user(queued_app, "ops@paydash.test").post("/api/periodic/prune_history/run").get_json()
    with queued_app.app_context():
        job = db.session.get(Job, body["job_id"])
        assert (job.task_name, job.args["manual"], job.requested_by_id) == (
            "prune_history", True, people_q.operator)


def test_periodic_page_lists_schedules_in_words(queued_app, people_q):
    body = as_user(queued_app, "ops@paydash.test").get("/api/periodic").get_json()
    schedules = {t["task"]: t["schedule"] for t in body["tasks"]}
    assert schedules["cleanup_old_chart_data"] == "Sundays at 02:00"
    assert as_user(queued_app, "ops@paydash.test").get("/jobs/periodic").status_code == 200


def test_periodic_last_run_is_the_real_run_however_many_consumers_skipped_the_slot(
        queued_app, people_q):
    ran = add_job(queued_app, task="recover_lost_jobs", state=JobState.SUCCESS.value,
                  started_at=utcnow() - dt.timedelta(minutes=2),
                  created_at=utcnow() - dt.timedelta(minutes=2))
    for _ in range(6):  # six other consumers lost the same slot, a moment later
        add_job(queued_app, task="recover_lost_jobs", state=JobState.REVOKED.value,
                result={"skipped": "another consumer ran it"})
    body = as_user(queued_app, "ops@paydash.test").get("/api/periodic").get_json()
    (row,) = [t for t in body["tasks"] if t["task"] == "recover_lost_jobs"]
    assert row["last_run"]["job_id"] == ran


def test_workers_json_lists_a_dead_workers_jobs_as_worker_lost(queued_app, people_q):
    old = utcnow() - dt.timedelta(minutes=10)
    with queued_app.app_context():
        db.session.add(Worker(id="h:9", host="h", pid=9, worker_type="thread", concurrency=2,
                              started_at=old, heartbeat_at=old))
        db.session.commit()
    add_job(queued_app, state=JobState.STARTED.value, worker_id="h:9", started_at=old, heartbeat_at=old)
    (worker,) = as_user(queued_app, "ops@paydash.test").get("/api/workers").get_json()["workers"]
    assert worker["status"] == "stale"
    assert [j["state"] for j in worker["jobs"]] == ["WORKER_LOST"]


def test_scheduled_lists_retrying_jobs_with_their_eta(queued_app, people_q):
    eta = utcnow() + dt.timedelta(minutes=5)
    job_id = add_job(queued_app, state=JobState.RETRY.value, eta=eta)
    body = as_user(queued_app, "ops@paydash.test").get("/api/jobs/scheduled").get_json()
    assert [(j["id"], j["eta"]) for j in body["jobs"]] == [(job_id, eta.isoformat() + "Z")]


# --- Access -------------------------------------------------------------------------------


def test_readonly_operator_sees_everything_and_every_action_is_403(queued_app, people_q):
    job_id = add_job(queued_app, state=JobState.FAILURE.value, error="x", tenant_id=people_q.tenant_b)
    client = as_user(queued_app, "viewer@paydash.test")
    assert client.get(f"/jobs/{job_id}").status_code == 200
    for url in (f"/jobs/{job_id}/retry", f"/api/jobs/{job_id}/retry", f"/api/jobs/{job_id}/revoke",
                "/jobs/bulk-retry", "/api/jobs/retry", "/jobs/tasks/noop/pause",
                "/api/tasks/noop/revoke-pending", "/api/periodic/prune_history/run"):
        assert client.post(url).status_code == 403, url
    assert job_state(queued_app, job_id) == JobState.FAILURE.value


def test_tenant_admin_gets_404_for_another_tenants_job(queued_app, people_q):
    other = add_job(queued_app, state=JobState.FAILURE.value, error="x", tenant_id=people_q.tenant_b)
    client = as_user(queued_app, "admin@acme.test")
    assert client.get(f"/jobs/{other}").status_code == 404
    assert client.get(f"/api/jobs/{other}/events").status_code == 404
    assert client.get(f"/api/jobs/{other}/live").status_code == 404
    assert client.post(f"/jobs/{other}/retry").status_code == 404
    assert client.post("/jobs/bulk-retry", data={"ids": [other]}).status_code == 404
    assert job_state(queued_app, other) == JobState.FAILURE.value


def test_tenant_admin_list_and_overview_cover_only_their_tenant(queued_app, people_q):
    mine = add_job(queued_app, tenant_id=people_q.tenant_a)
    add_job(queued_app, tenant_id=people_q.tenant_b)
    client = as_user(queued_app, "admin@acme.test")
    assert [j["id"] for j in client.get("/api/jobs").get_json()["jobs"]] == [mine]
    assert client.get("/api/jobs/overview").get_json()["pending"]["maintenance"] == 1


def test_overview_running_jobs_are_the_readers_tenants_only(queued_app, people_q):
    mine = add_job(queued_app, state=JobState.STARTED.value, tenant_id=people_q.tenant_a,
                   started_at=utcnow() - dt.timedelta(minutes=2))
    theirs = add_job(queued_app, state=JobState.STARTED.value, tenant_id=people_q.tenant_b,
                     started_at=utcnow() - dt.timedelta(minutes=1))
    def running(email):
        data = as_user(queued_app, email).get("/api/jobs/overview").get_json()
        return [j["id"] for j in data["running_jobs"]], data["running"]
    assert running("admin@acme.test") == ([mine], 1)
    assert running("admin@bharat.test") == ([theirs], 1)
    assert running("ops@paydash.test") == ([mine, theirs], 2)


def test_tenant_admin_has_no_global_action(queued_app, people_q):
    client = as_user(queued_app, "admin@acme.test")
    for url in ("/jobs/tasks/noop/pause", "/api/tasks/noop/revoke-pending",
                "/api/periodic/prune_history/run", "/jobs/periodic/prune_history/run"):
        assert client.post(url).status_code == 403, url
    assert client.get("/api/workers").status_code == 403


def test_hr_user_sees_only_their_own_jobs_in_plain_words(queued_app, people_q):
    mine = add_job(queued_app, tenant_id=people_q.tenant_a, requested_by_id=people_q.hr_a,
                   state=JobState.FAILURE.value, error="Row 3 is wrong",
                   task="commit_salary_sheet", year=2026, month=3)
    colleague = add_job(queued_app, tenant_id=people_q.tenant_a, requested_by_id=people_q.hr_a2)
    client = as_user(queued_app, "hr@acme.test")
    page = client.get("/jobs/")
    assert b"Failed: Row 3 is wrong" in page.data and b"Traceback" not in page.data
    # The same words as the upload pages use for the job.
    assert b"Saving the March 2026 salary sheet" in page.data
    assert client.get(f"/jobs/{colleague}").status_code == 404
    assert client.get(f"/jobs/{mine}").status_code == 200
    assert client.get(f"/api/jobs/{colleague}/live").status_code == 404
    assert client.get(f"/api/jobs/{mine}/live").get_json()["job"]["id"] == mine
    assert client.get("/api/jobs/overview").status_code == 403
    assert client.post(f"/jobs/{mine}/retry").status_code == 403


def test_existing_job_status_endpoint_still_answers(queued_app, people_q):
    job_id = add_job(queued_app)
    body = as_user(queued_app, "ops@paydash.test").get(f"/api/jobs/{job_id}").get_json()
    assert (body["id"], body["state"]) == (job_id, JobState.PENDING.value)


# --- Metrics and health ------------------------------------------------------------------


def test_metrics_parse_with_prometheus_parser_and_hold_the_families(queued_app, people_q):
    add_job(queued_app)
    add_job(queued_app, state=JobState.SUCCESS.value, finished_at=utcnow(), runtime_seconds=0.2)
    text = as_user(queued_app, "ops@paydash.test").get("/metrics").get_data(as_text=True)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("paydash_queue_depth", "paydash_jobs", "paydash_job_runtime_seconds",
                 "paydash_workers_alive", "paydash_oldest_pending_age_seconds"):
        assert name in families, name
    depth = {s.labels["queue"]: s.value for s in families["paydash_queue_depth"].samples}
    assert depth["maintenance"] == 1
    assert families["paydash_job_runtime_seconds"].type == "histogram"


def test_metrics_need_an_operator_or_the_bearer_token(tmp_path, sqlite_url):
    app = make_app(base_config(tmp_path, sqlite_url, METRICS_TOKEN="s3cret"))
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_healthz_is_200_when_database_and_broker_answer(queued_app):
    response = queued_app.test_client().get("/healthz")
    assert (response.status_code, response.get_json()["broker"]) == (200, "ok")


def test_healthz_is_503_when_the_broker_is_unreachable(tmp_path, sqlite_url):
    app = make_app(base_config(tmp_path, sqlite_url, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.get_json()["broker"]) == (503, "unreachable")


# --- Retention ------------------------------------------------------------------------------


def test_retention_prunes_old_successes_and_failures_with_their_events(queued_app):
    old_ok = add_job(queued_app, state=JobState.SUCCESS.value, finished_ago=31)
    old_failed = add_job(queued_app, state=JobState.FAILURE.value, error="x", finished_ago=91)
    with queued_app.app_context():
        summary = retention.prune()
        assert summary["jobs"] == 2
        assert db.session.get(Job, old_ok) is None and db.session.get(Job, old_failed) is None
        assert not db.session.scalars(sa.select(JobEvent).where(
            JobEvent.job_id.in_([old_ok, old_failed]))).all()


def test_retention_drops_old_workbooks_except_the_confirmed_ones(queued_app, people_q):
    from paydash.models import Upload  # noqa: PLC0415
    old = utcnow() - dt.timedelta(days=401)
    with queued_app.app_context():
        uploads = {status: Upload(tenant_id=people_q.tenant_a, filename=f"{status}.xlsx",
                                  content=b"xlsx", staged_rows=b"rows", sha256="0" * 64,
                                  year=2024, month=1, status=status, created_at=old)
                   for status in ("confirmed", "preview", "rejected")}
        db.session.add_all(uploads.values())
        db.session.commit()
        assert retention.prune()["workbooks"] == 2
        db.session.expire_all()
        kept = {status: (u.content, u.staged_rows) for status, u in uploads.items()}
    assert kept == {"confirmed": (b"xlsx", b"rows"), "preview": (None, None), "rejected": (None, None)}


def test_retention_keeps_recent_successes_and_failures_younger_than_90_days(queued_app):
    recent_ok = add_job(queued_app, state=JobState.SUCCESS.value, finished_ago=29)
    failed_60 = add_job(queued_app, state=JobState.FAILURE.value, error="x", finished_ago=60)
    pending = add_job(queued_app, created_at=utcnow() - dt.timedelta(days=200))
    with queued_app.app_context():
        retention.prune()
        assert all(db.session.get(Job, i) is not None for i in (recent_ok, failed_60, pending))


# --- The overview's figures against a direct count of the ledger -----------------------------


@pytest.fixture
def busy_ledger(queued_app, people_q):
    """Open and finished jobs of two tenants, spread over the last two days."""
    now = utcnow()
    for minutes in (1, 3, 30, 59, 61, 70, 125, 600, 1500, 2000):
        for tenant, state in ((people_q.tenant_a, JobState.SUCCESS.value),
                              (people_q.tenant_b, JobState.FAILURE.value),
                              (people_q.tenant_a, JobState.FAILURE.value)):
            at = now - dt.timedelta(minutes=minutes)
            add_job(queued_app, state=state, tenant_id=tenant, finished_at=at, runtime_seconds=minutes / 10)
    add_job(queued_app, tenant_id=people_q.tenant_a, created_at=now - dt.timedelta(minutes=9))
    add_job(queued_app, tenant_id=people_q.tenant_b, created_at=now - dt.timedelta(minutes=20))
    add_job(queued_app, tenant_id=people_q.tenant_a, eta=now + dt.timedelta(hours=1))
    add_job(queued_app, state=JobState.RETRY.value, tenant_id=people_q.tenant_b)
    add_job(queued_app, state=JobState.STARTED.value, tenant_id=people_q.tenant_a)
    return people_q, now


def direct_counts(tenant_id, since, until):
    stmt = sa.select(Job.state, sa.func.count()).where(
        Job.finished_at >= since, Job.finished_at < until,
        Job.state.in_([JobState.SUCCESS.value, JobState.FAILURE.value]))
    if tenant_id is not None:
        stmt = stmt.where(Job.tenant_id == tenant_id)
    counts = dict(db.session.execute(stmt.group_by(Job.state)).all())
    return counts.get(JobState.SUCCESS.value, 0), counts.get(JobState.FAILURE.value, 0)


@pytest.mark.parametrize("who", ["operator", "tenant_a"])
def test_overview_series_equal_a_direct_count_of_the_ledger(queued_app, busy_ledger, who):
    people, now = busy_ledger
    tenant_id = None if who == "operator" else people.tenant_a
    with queued_app.app_context():
        data = stats.overview(tenant_id, ["noop"], now)
        for series, step in (("per_hour", dt.timedelta(hours=1)), ("per_minute", dt.timedelta(minutes=1))):
            for point in data[series]:
                start = dt.datetime.fromisoformat(point["at"].rstrip("Z"))
                expected = direct_counts(tenant_id, start, start + step)
                assert (point["completed"], point["failed"]) == expected, point
        day_start = dt.datetime.fromisoformat(data["per_hour"][-24]["at"].rstrip("Z"))
        succeeded, failed = direct_counts(tenant_id, day_start, now + dt.timedelta(seconds=1))
        assert (data["last_24h"]["succeeded"], data["last_24h"]["failed"]) == (succeeded, failed)


def test_overview_queue_figures_equal_a_direct_count(queued_app, busy_ledger):
    people, now = busy_ledger
    with queued_app.app_context():
        everyone = stats.queue_figures(None, now)
        acme = stats.queue_figures(people.tenant_a, now)
    def figures(f):
        return f["pending_total"], f["scheduled"], f["retrying"], f["running"]
    assert figures(everyone) == (2, 2, 1, 1)
    assert figures(acme) == (1, 1, 0, 1)
    assert 20 * 60 <= everyone["oldest_pending_seconds"] < 21 * 60
    assert 9 * 60 <= acme["oldest_pending_seconds"] < 10 * 60
