"""Each condition raises exactly one alert and one all-clear, by email (a real SMTP server
started here) and by webhook (a real HTTP receiver), to the right people, and no more.

The checks run with an explicit clock: the engine reads the ledger as of `now`, so a test can
let an hour pass without waiting for it.
"""
import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import dispose_app
from conftest import make_app
from receivers import SmtpServer
from receivers import WebhookReceiver

from paydash.alerts import engine
from paydash.alerts import recipients
from paydash.alerts.watch import OutageWatch
from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.ledger.models import Worker
from paydash.models import AlertDelivery
from paydash.models import Upload
from paydash.periodic import periodic_schedules

OPS = "oncall@ops.test"
TENANT_ADMIN = "admin@acme.test"
OTHER_ADMIN = "admin@bharat.test"
PERIODIC = list(periodic_schedules("UTC"))


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def hook():
    with WebhookReceiver() as receiver:
        yield receiver


def alert_config(smtp, hook, **extra) -> dict:
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port, "ALERT_OPERATOR_EMAILS": OPS,
            "ALERT_OPERATOR_WEBHOOK_URL": f"{hook.url}/platform", "ALERT_CLEAR_AFTER_SECONDS": 0,
            "ALERT_DIGEST_HOUR": 24, "PUBLIC_BASE_URL": "https://paydash.example",
            # The receiver listens on 127.0.0.1; the refusal of private hosts has its own test.
            "ALERT_WEBHOOK_ALLOW_PRIVATE": True, **extra}


def build(tmp_path, url, smtp, hook, **extra):
    app = make_app(base_config(tmp_path, url, **alert_config(smtp, hook, **extra)))
    people = People(app)
    with app.app_context():
        recipients.save(f"tenant:{people.tenant_a}", emails="", webhook_url=f"{hook.url}/acme",
                        wanted_conditions=recipients.conditions_for(f"tenant:{people.tenant_a}"))
    return app, people


@pytest.fixture
def alert_app(tmp_path, sqlite_url, smtp, hook):
    app, people = build(tmp_path, sqlite_url, smtp, hook)
    yield app, people
    dispose_app(app)


T0 = dt.datetime(2026, 12, 2, 6, 0)  # A Wednesday, before the digest hour of any test.


def add_job(**values) -> Job:
    values.setdefault("id", str(uuid.uuid4()))
    values.setdefault("task_name", "import_salary_sheet")
    values.setdefault("queue", "imports")
    job = Job(**values)
    db.session.add(job)
    db.session.commit()
    return job


def healthy(now: dt.datetime, skip_periodic=(), worker_stopped=False) -> None:
    """A worker heart-beating and every periodic task run on time: nothing to alert on."""
    worker = db.session.get(Worker, "host:1") or Worker(id="host:1", host="host", pid=1,
                                                        worker_type="thread",
                                                        started_at=T0 - dt.timedelta(days=9))
    worker.heartbeat_at, worker.stopped_at = now, (now if worker_stopped else None)
    db.session.add(worker)
    for name in PERIODIC:
        if name not in skip_periodic:
            add_job(task_name=name, queue="maintenance", state="SUCCESS", created_at=now, finished_at=now)
    db.session.commit()


def check(app, now, **healthy_args) -> dict:
    with app.app_context():
        healthy(now, **healthy_args)
        return engine.check(app.config, now)


# Each condition: how to cause it, how to cure it, and who hears of it.
def cause_job_failed(people, now):
    add_job(state="FAILURE", tenant_id=people.tenant_a, attempts=3, max_attempts=3,
            created_at=now - dt.timedelta(minutes=3), finished_at=now - dt.timedelta(minutes=1),
            error="ValueError: the sheet's row 4 could not be stored")


def cure_job_failed(people, now):
    return now + dt.timedelta(minutes=61)  # The failure leaves the hour's window.


def cause_queue_stuck(people, now):
    add_job(id="stuck", state="PENDING", tenant_id=people.tenant_a, created_at=now - dt.timedelta(minutes=20))


def cure_queue_stuck(people, now):
    db.session.get(Job, "stuck").state = "SUCCESS"
    db.session.commit()


def cause_import_failed(people, now):
    db.session.add(Upload(id=7, tenant_id=people.tenant_a, filename="november.xlsx", sha256="0" * 64,
                          year=2026, month=11, status="failed", created_at=now - dt.timedelta(minutes=2)))
    db.session.commit()


def cure_import_failed(people, now):
    db.session.get(Upload, 7).status = "preview"  # Uploaded again and checked.
    db.session.commit()


def cause_worker_lost(people, now):
    add_job(id="lost", state="STARTED", tenant_id=people.tenant_a, worker_id="gone:42",
            started_at=now - dt.timedelta(minutes=10), heartbeat_at=now - dt.timedelta(minutes=5))


def cure_worker_lost(people, now):
    db.session.get(Job, "lost").state = "PENDING"  # Recovery put it back on the queue.
    db.session.commit()


def cause_periodic_late(people, now):
    # The weekly cleanup's last run (last Sunday 02:00) is missing from the ledger.
    db.session.execute(sa.delete(Job).where(Job.task_name == "cleanup_old_chart_data"))
    db.session.commit()


def cause_worker_died(people, now):
    # A consumer that stopped heart-beating without marking itself stopped (kill -9, OOM).
    db.session.add(Worker(id="crashed:7", host="crashed", pid=7, worker_type="thread",
                          started_at=now - dt.timedelta(hours=2), heartbeat_at=now - dt.timedelta(minutes=2)))
    db.session.commit()


def cure_worker_died(people, now):
    return now + dt.timedelta(minutes=61)  # An hour after the crash it is history.


CONDITIONS = {
    # condition: (cause, cure, does the tenant's admin hear of it?, what the check needs)
    "job_failed": (cause_job_failed, cure_job_failed, True, {}),
    "queue_stuck": (cause_queue_stuck, cure_queue_stuck, True, {}),
    "import_failed": (cause_import_failed, cure_import_failed, True, {}),
    "worker_lost": (cause_worker_lost, cure_worker_lost, False, {}),
    "worker_died": (cause_worker_died, cure_worker_died, False, {}),
    "no_worker": (None, None, False, {"worker_stopped": True}),
    "periodic_late": (cause_periodic_late, None, False, {"skip_periodic": ("cleanup_old_chart_data",)}),
}


TITLE_OF = {"worker_died": "worker_lost"}  # Two ways into one condition.


def assert_one_problem_and_one_all_clear(smtp, hook, tenant_hears: bool, title: str):
    """Exactly one problem and one all-clear to each recipient who should hear, none to others."""
    expected = {OPS: True, TENANT_ADMIN: tenant_hears, OTHER_ADMIN: False}
    for address, hears in expected.items():
        subjects = smtp.mailbox.to(address)
        want = 1 if hears else 0
        assert sum(s.startswith("[Paydash] Problem") for s in subjects) == want, (address, subjects)
        assert sum(s.startswith("[Paydash] All clear") for s in subjects) == want, (address, subjects)
        if hears:
            assert all(title in s for s in subjects), subjects
    for path, hears in (("/platform", True), ("/acme", tenant_hears)):
        texts = hook.texts(path)
        assert [t.split(":", 1)[0] for t in texts] == (["*[Paydash] Problem", "*[Paydash] All clear"]
                                                       if hears else []), (path, texts)
    assert all(content_type == "application/json" for _, content_type, _ in hook.posts)


@pytest.mark.parametrize("condition", list(CONDITIONS))
def test_each_condition_sends_one_alert_while_it_lasts_and_one_all_clear(alert_app, smtp, hook, condition):
    app, people = alert_app
    cause, cure, tenant_hears, unhealthy = CONDITIONS[condition]
    from paydash.alerts.conditions import CONDITIONS as TITLES
    now = T0
    assert check(app, now)["opened"] == 0  # A healthy ledger: nothing to say.
    with app.app_context():
        cause and cause(people, now)
    for minute in range(5):  # The problem lasts five checks: one message, not five.
        result = check(app, now + dt.timedelta(minutes=minute), **unhealthy)
        assert result["opened"] == (1 + tenant_hears if minute == 0 else 0), result
    now += dt.timedelta(minutes=5)
    with app.app_context():
        later = cure(people, now) if cure else None
    now = later or now
    result = check(app, now)
    assert result["cleared"] == 1 + tenant_hears, result
    check(app, now + dt.timedelta(minutes=1))  # Nothing more once cleared.
    assert_one_problem_and_one_all_clear(smtp, hook, tenant_hears, TITLES[TITLE_OF.get(condition, condition)].title)


def test_an_alert_links_to_the_job_in_plain_words(alert_app, smtp, hook):
    app, people = alert_app
    with app.app_context():
        cause_job_failed(people, T0)
        job_id = db.session.scalar(sa.select(Job.id).where(Job.state == "FAILURE"))
    check(app, T0)
    [(_, subject, body)] = [m for m in smtp.mailbox.messages if TENANT_ADMIN in m[0]]
    assert "Acme Traders" in subject
    assert "1 job failed for good in the last hour (all attempts used)" in body
    assert "checking an uploaded salary sheet" in body
    assert f"https://paydash.example/jobs/{job_id}" in body
    assert "Traceback" not in body


def test_a_thousand_failures_in_a_minute_send_one_message_not_a_thousand(alert_app, smtp, hook):
    app, people = alert_app
    for batch in range(10):  # 100 failures every 6 seconds, a check after each batch.
        now = T0 + dt.timedelta(seconds=6 * batch)
        with app.app_context():
            db.session.add_all([Job(id=str(uuid.uuid4()), task_name="sync_chart_data_batch", queue="chart_sync",
                                    tenant_id=people.tenant_a, state="FAILURE", attempts=4, max_attempts=4,
                                    created_at=now, finished_at=now, error="database timeout")
                                for _ in range(100)])
            db.session.commit()
        check(app, now)
    assert len(smtp.mailbox.to(OPS)) == 1
    assert len(smtp.mailbox.to(TENANT_ADMIN)) == 1
    assert len(hook.texts("/platform")) == 1 and len(hook.texts("/acme")) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AlertDelivery)) == 4
        [state] = [s for s in db.session.scalars(sa.select(engine.AlertState)) if s.scope == "platform"]
        assert state.occurrences == 1000  # The count is kept for the digest.


def test_a_muted_alert_sends_nothing_and_waits_for_the_daily_digest(alert_app, smtp, hook):
    app, people = alert_app
    scope = f"tenant:{people.tenant_a}"
    with app.app_context():
        recipients.mute(scope, "job_failed", 24, T0)
        cause_job_failed(people, T0)
    check(app, T0)
    assert smtp.mailbox.to(TENANT_ADMIN) == [] and hook.texts("/acme") == []
    assert len(smtp.mailbox.to(OPS)) == 1  # The operators did not mute it.
    with app.app_context():
        statuses = {d.status for d in db.session.scalars(sa.select(AlertDelivery).where(AlertDelivery.scope == scope))}
        assert statuses == {"suppressed"}
    app.config["ALERT_DIGEST_HOUR"] = 8
    digest_time = T0.replace(hour=8, minute=30)
    check(app, digest_time)
    check(app, digest_time + dt.timedelta(hours=1))  # Once a day, not once a check.
    digests = [m for m in smtp.mailbox.messages if TENANT_ADMIN in m[0]]
    assert [subject for _, subject, _ in digests] == ["[Paydash] Daily alert digest - Acme Traders"]
    # The problem opened and (its hour over) cleared while muted: both wait for the digest.
    assert "Held back (muted or not chosen): 2 message(s)." in digests[0][2]
    assert "- Problem: A job failed for good" in digests[0][2]
    assert "- All clear: A job failed for good" in digests[0][2]


def test_a_condition_the_admin_did_not_choose_is_not_sent(alert_app, smtp, hook):
    app, people = alert_app
    scope = f"tenant:{people.tenant_a}"
    with app.app_context():
        recipients.save(scope, emails="", webhook_url="",
                        wanted_conditions=[c for c in recipients.conditions_for(scope) if c != "job_failed"])
        cause_job_failed(people, T0)
    check(app, T0)
    assert smtp.mailbox.to(TENANT_ADMIN) == []


def test_a_failed_webhook_is_retried_with_backoff_then_sent_once(alert_app, smtp, hook):
    app, people = alert_app
    hook.fail_next = 2
    with app.app_context():
        cause_job_failed(people, T0)
    check(app, T0)  # Both webhooks answer 500.
    assert hook.texts("/platform") == []
    check(app, T0 + dt.timedelta(seconds=10))  # Too early for the retry: nothing sent.
    assert hook.texts("/platform") == []
    check(app, T0 + dt.timedelta(minutes=2))
    assert len(hook.texts("/platform")) == 1 and len(hook.texts("/acme")) == 1
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AlertDelivery).where(AlertDelivery.channel == "webhook")))
        assert {(r.status, r.attempts) for r in rows} == {("sent", 2)}


def test_a_channel_that_never_answers_ends_failed_and_is_not_sent_again(alert_app, smtp, hook):
    app, people = alert_app
    app.config["ALERT_MAX_ATTEMPTS"] = 3
    hook.fail_next = 100
    with app.app_context():
        cause_job_failed(people, T0)
    for minute in range(0, 60, 5):
        check(app, T0 + dt.timedelta(minutes=minute))
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AlertDelivery).where(AlertDelivery.channel == "webhook")))
        assert {(r.status, r.attempts) for r in rows} == {("failed", 3)}
        assert all("500" in r.last_error for r in rows)
    assert hook.fail_next == 100 - 6  # Two webhooks, three tries each.


def test_a_problem_that_blips_off_for_one_check_is_not_cleared(alert_app, smtp, hook):
    app, people = alert_app
    app.config["ALERT_CLEAR_AFTER_SECONDS"] = 120
    with app.app_context():
        cause_queue_stuck(people, T0)
    check(app, T0)
    with app.app_context():
        cure_queue_stuck(people, T0)
    check(app, T0 + dt.timedelta(minutes=1))  # Gone for one minute: not yet over.
    assert not any("All clear" in s for s in smtp.mailbox.to(OPS))
    check(app, T0 + dt.timedelta(minutes=3))
    assert sum("All clear" in s for s in smtp.mailbox.to(OPS)) == 1


def outage_watch(app, db_up, broker_up):
    return OutageWatch(app.config, lambda: db_up[0], lambda: broker_up[0])


def test_a_broker_down_for_more_than_a_minute_raises_one_alert_and_one_all_clear(alert_app, smtp, hook):
    app, _ = alert_app
    broker_up = [False]
    watch = outage_watch(app, [True], broker_up)
    with app.app_context():
        for seconds in (0, 15, 30, 45):  # Under a minute: nothing.
            watch.tick(T0 + dt.timedelta(seconds=seconds))
        assert smtp.mailbox.messages == []
        for seconds in (60, 75, 90, 300):
            watch.tick(T0 + dt.timedelta(seconds=seconds))
        broker_up[0] = True
        watch.tick(T0 + dt.timedelta(seconds=315))
        watch.tick(T0 + dt.timedelta(seconds=330))
    assert_one_problem_and_one_all_clear(smtp, hook, False, "The job queue (Redis) unreachable")


def test_a_database_down_for_more_than_a_minute_raises_one_alert_and_one_all_clear(alert_app, smtp, hook):
    app, _ = alert_app
    db_up = [False]
    watch = outage_watch(app, db_up, [True])
    with app.app_context():
        for seconds in (0, 30, 60, 75, 90, 120):
            watch.tick(T0 + dt.timedelta(seconds=seconds))
        assert len(smtp.mailbox.to(OPS)) == 1  # Told while the database is still down.
        db_up[0] = True
        watch.tick(T0 + dt.timedelta(seconds=135))
        watch.tick(T0 + dt.timedelta(seconds=150))
        rows = list(db.session.scalars(sa.select(AlertDelivery).order_by(AlertDelivery.id)))
        assert sorted((r.kind, r.channel, r.status) for r in rows) == [
            ("clear", "email", "sent"), ("clear", "webhook", "sent"),
            ("open", "email", "sent"), ("open", "webhook", "sent")]
    assert_one_problem_and_one_all_clear(smtp, hook, False, "The database unreachable")


def test_a_short_database_blip_says_nothing(alert_app, smtp, hook):
    app, _ = alert_app
    db_up = [False]
    watch = outage_watch(app, db_up, [True])
    with app.app_context():
        watch.tick(T0)
        watch.tick(T0 + dt.timedelta(seconds=30))
        db_up[0] = True
        watch.tick(T0 + dt.timedelta(seconds=45))
    assert smtp.mailbox.messages == [] and hook.posts == []


def test_the_failures_alert_on_postgresql_too(tmp_path, pg_url, smtp, hook):
    app, people = build(tmp_path, pg_url, smtp, hook)
    try:
        with app.app_context():
            cause_job_failed(people, T0)
        check(app, T0)
        check(app, T0 + dt.timedelta(minutes=1))
        check(app, T0 + dt.timedelta(minutes=62))
        assert_one_problem_and_one_all_clear(smtp, hook, True, "A job failed for good")
    finally:
        dispose_app(app)


def test_a_tenants_webhook_to_a_private_address_is_refused_and_recorded(alert_app, smtp, hook):
    app, people = alert_app
    app.config["ALERT_WEBHOOK_ALLOW_PRIVATE"] = False
    app.config["ALERT_MAX_ATTEMPTS"] = 1
    with app.app_context():
        cause_job_failed(people, T0)
    check(app, T0)
    assert hook.texts("/acme") == []
    assert len(hook.texts("/platform")) == 1  # The operators' own webhook (from env) is trusted.
    with app.app_context():
        [row] = db.session.scalars(sa.select(AlertDelivery).where(AlertDelivery.target == f"{hook.url}/acme"))
        assert row.status == "failed"
        assert "is a private address; Paydash posts only to public addresses" in row.last_error


def test_the_last_due_slot_matches_a_minute_by_minute_search():
    from paydash.alerts.conditions import _last_slot
    for tz in ("UTC", "Asia/Kolkata", "America/New_York"):
        for name, schedule in periodic_schedules(tz).items():
            for before in (dt.datetime(2026, 12, 5, 1, 0), dt.datetime(2026, 3, 8, 7, 13),
                           dt.datetime(2026, 11, 1, 6, 59)):
                t = before
                while not schedule(t):
                    t -= dt.timedelta(minutes=1)
                assert _last_slot(schedule, before) == t, (tz, name, before)


def test_email_without_smtp_settings_fails_at_once_with_the_reason(alert_app, smtp, hook):
    app, people = alert_app
    app.config["SMTP_HOST"] = None
    with app.app_context():
        cause_job_failed(people, T0)
    check(app, T0)
    check(app, T0 + dt.timedelta(minutes=5))
    assert len(hook.texts("/platform")) == 1  # The webhook still works.
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AlertDelivery).where(AlertDelivery.channel == "email")))
        assert {(r.status, r.attempts) for r in rows} == {("failed", 1)}
        assert all("SMTP_HOST is not set" in r.last_error for r in rows)


def test_old_messages_and_problems_are_forgotten_after_the_failed_jobs_retention(alert_app, smtp, hook):
    app, people = alert_app
    with app.app_context():
        cause_job_failed(people, T0)
    check(app, T0)
    check(app, T0 + dt.timedelta(minutes=62))  # Cleared: two scopes x two channels x open, clear.
    check(app, T0 + dt.timedelta(days=89))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AlertDelivery)) == 8
    check(app, T0 + dt.timedelta(days=91))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AlertDelivery)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(engine.AlertState)) == 0


def test_a_sheet_check_that_failed_with_retries_left_is_not_news_yet(alert_app, smtp, hook):
    app, people = alert_app
    with app.app_context():
        add_job(id="check-7", state="RETRY", tenant_id=people.tenant_a, attempts=1, max_attempts=3)
        cause_import_failed(people, T0)
        db.session.get(Upload, 7).job_id = "check-7"
        db.session.commit()
    check(app, T0)
    assert smtp.mailbox.messages == []
    with app.app_context():
        job = db.session.get(Job, "check-7")  # The last attempt failed too.
        job.state, job.finished_at = "FAILURE", T0 + dt.timedelta(seconds=30)
        db.session.commit()
    check(app, T0 + dt.timedelta(minutes=1))
    assert len(smtp.mailbox.to(TENANT_ADMIN)) == 2  # The failed check, and its job that failed for good.
