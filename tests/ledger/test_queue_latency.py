"""Queue latency per minute on the job overview: jobs with known enqueue and start times."""
import datetime as dt
import uuid

import pytest
from conftest import People
from conftest import base_config
from conftest import dispose_app
from conftest import login
from conftest import make_app
from conftest import statements_during

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import latency
from paydash.ledger.models import Job
from paydash.ledger.models import JobEvent
from paydash.ledger.models import JobState


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'ledger.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    app = make_app(base_config(tmp_path, url))
    latency.clear_cache()
    people = People(app)
    yield app, people
    dispose_app(app)


def add(tenant_id, started, waited, *, state=JobState.SUCCESS.value, created=None, **values) -> str:
    """A job created `waited` seconds before it started (or at `created`), as the hooks leave it."""
    job = Job(id=str(uuid.uuid4()), task_name="noop", queue="maintenance", tenant_id=tenant_id,
              state=state, attempts=1, created_at=created or started - dt.timedelta(seconds=waited),
              started_at=started,
              finished_at=started + dt.timedelta(seconds=1) if state == JobState.SUCCESS.value else None,
              **values)
    db.session.add(job)
    db.session.add(JobEvent(job_id=job.id, at=started, state=JobState.STARTED.value))
    return job.id


def queries_reading_starts(call) -> list[str]:
    seen, _ = statements_during(call)
    return [s for s in seen if "started_at" in s]


def point(data, minute: dt.datetime) -> dict:
    at = minute.isoformat() + "Z"
    return next(p for p in data["latency_per_minute"] if p["at"] == at)


def test_latency_per_minute_from_known_enqueue_and_start_times(site):
    app, people = site
    a, b = people.tenant_a, people.tenant_b
    now = utcnow()
    this_minute = now.replace(second=0, microsecond=0)
    busy = this_minute - dt.timedelta(minutes=10)
    delayed = this_minute - dt.timedelta(minutes=20)
    retried = this_minute - dt.timedelta(minutes=30)
    with app.app_context():
        for waited in (2, 4, 60):
            add(a, busy + dt.timedelta(seconds=10), waited)
        add(b, busy + dt.timedelta(seconds=20), 300)
        # Delayed on purpose by an eta: the wait runs from the eta, not from its creation.
        start = delayed + dt.timedelta(seconds=5)
        add(a, start, 0, created=start - dt.timedelta(hours=1), eta=start - dt.timedelta(seconds=3))
        # Retried: its row holds the second start (and the retry's eta); the wait is to the first.
        first = retried + dt.timedelta(seconds=15)
        job_id = add(a, first + dt.timedelta(minutes=5), 0, created=first - dt.timedelta(seconds=5),
                     eta=first + dt.timedelta(minutes=4))
        db.session.get(Job, job_id).attempts = 2
        db.session.add(JobEvent(job_id=job_id, at=first, state=JobState.STARTED.value))
        # Running now, in the minute that is still open (read live on every call).
        running = now - dt.timedelta(seconds=1)
        add(a, running, 7, state=JobState.STARTED.value)
        # Started before the window, and never started: neither is in the chart.
        add(a, now - dt.timedelta(hours=2), 500)
        db.session.add(Job(id=str(uuid.uuid4()), task_name="noop", queue="maintenance", tenant_id=a,
                           state=JobState.PENDING.value, created_at=busy))
        db.session.commit()

    operator = login(app.test_client(), "ops@paydash.test")
    everyone = operator.get("/api/jobs/overview").get_json()
    assert len(everyone["latency_per_minute"]) == 60
    # Nearest rank over 2, 4, 60 and 300 seconds.
    assert point(everyone, busy) == {"at": busy.isoformat() + "Z", "count": 4,
                                     "p50": 4.0, "p95": 300.0, "max": 300.0}
    admin = login(app.test_client(), "admin@acme.test")
    acme = admin.get("/api/jobs/overview").get_json()
    assert {k: point(acme, busy)[k] for k in ("count", "p50", "p95", "max")} == {
        "count": 3, "p50": 4.0, "p95": 60.0, "max": 60.0}
    for data in (everyone, acme):
        assert (point(data, delayed)["count"], point(data, delayed)["max"]) == (1, 3.0)
        assert (point(data, retried)["count"], point(data, retried)["max"]) == (1, 5.0)
        assert point(data, retried + dt.timedelta(minutes=5))["count"] == 0
        live = point(data, running.replace(second=0, microsecond=0))
        assert (live["count"], live["max"]) == (1, 7.0)
        assert sum(p["count"] for p in data["latency_per_minute"]) == (4 if data is everyone else 3) + 3
    bharat = login(app.test_client(), "admin@bharat.test").get("/api/jobs/overview").get_json()
    assert point(bharat, busy)["count"] == 1 and point(bharat, delayed)["count"] == 0

    # Asked again (closed minutes now come from the per-process cache): the same figures.
    again = operator.get("/api/jobs/overview").get_json()
    assert point(again, busy) == point(everyone, busy)
    assert point(again, retried) == point(everyone, retried)


def test_a_job_that_starts_after_the_first_look_shows_in_its_minute(site):
    """The open minutes are read live: a start written after a first call is not hidden."""
    app, _people = site
    operator = login(app.test_client(), "ops@paydash.test")
    assert sum(p["count"] for p in operator.get("/api/jobs/overview").get_json()["latency_per_minute"]) == 0
    # While nothing starts, polling reads no job rows for the chart (one probe of the timeline).
    with app.app_context():
        now = utcnow()
        latency.per_minute(None, now)
        assert queries_reading_starts(lambda: latency.per_minute(None, now)) == []
    with app.app_context():
        started = utcnow() - dt.timedelta(seconds=1)
        add(None, started, 12.5, state=JobState.STARTED.value)
        db.session.commit()
    data = operator.get("/api/jobs/overview").get_json()
    live = point(data, started.replace(second=0, microsecond=0))
    assert (live["count"], live["p50"], live["p95"]) == (1, 12.5, 12.5)
