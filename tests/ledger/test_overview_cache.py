"""What the overview keeps between polls gives the same answer as reading everything afresh.

Issue 18: the overview keeps the closed hours' series (until an hour closes), takes the
run-time percentiles' sign of change from the live count it already makes, and reads the
running jobs as rows. Each test here compares against a fresh read (every cache emptied)
or a direct count of the ledger, on SQLite and PostgreSQL.
"""
import datetime as dt
import random
import uuid

import pytest
import sqlalchemy as sa
from conftest import statements_during

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import latency
from paydash.ledger import rollups
from paydash.ledger import stats
from paydash.ledger.models import Job
from paydash.ledger.models import JobState

TASKS = ["noop", "import_salary_sheet", "sync_chart_data_batch"]
SCOPES = [None, 1, 2]


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_app(request, tmp_path):
    from conftest import base_config  # noqa: PLC0415
    from conftest import dispose_app  # noqa: PLC0415
    from conftest import make_app  # noqa: PLC0415
    url = (f"sqlite:///{tmp_path / 'ledger.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    app = make_app(base_config(tmp_path, url))
    forget()
    yield app
    forget()
    dispose_app(app)


def forget() -> None:
    stats._RUNTIME_CACHE.clear()
    rollups.clear_cache()
    latency.clear_cache()


def add(state: str, finished: dt.datetime | None, *, tenant_id: int | None = 1, task: str = "noop",
        runtime: float | None = 1.0, **values) -> str:
    job_id = str(uuid.uuid4())
    start = finished - dt.timedelta(seconds=runtime or 0) if finished else values.pop("started_at", None)
    db.session.add(Job(id=job_id, task_name=task, queue="maintenance", tenant_id=tenant_id, state=state,
                       created_at=(start or utcnow()) - dt.timedelta(seconds=3), started_at=start,
                       finished_at=finished, runtime_seconds=runtime if finished else None,
                       attempts=1, **values))
    db.session.commit()
    return job_id


def direct_percentiles(tenant_id, now) -> list[dict]:
    """The run-time figures computed straight from the ledger, nothing kept."""
    out = []
    for name in TASKS:
        stmt = sa.select(Job.runtime_seconds).where(
            Job.task_name == name, Job.state == JobState.SUCCESS.value,
            Job.finished_at >= now - dt.timedelta(hours=24), Job.runtime_seconds.is_not(None))
        if tenant_id is not None:
            stmt = stmt.where(Job.tenant_id == tenant_id)
        values = sorted(db.session.scalars(stmt.order_by(Job.finished_at.desc()).limit(stats.PERCENTILE_SAMPLE)))
        if values:
            out.append({"task": name, "count": len(values),
                        **{f"p{q}": round(stats.percentile(values, q), 3) for q in (50, 95, 99)}})
    return out


def without_latency(data: dict) -> dict:
    """The queue latency keeps its own minutes on its own rule (a start writes an event; see
    tests/ledger/test_queue_latency.py); these made-up rows write no events."""
    data.pop("latency_per_minute")
    return data


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_overview_as_polled_equals_a_fresh_read_while_jobs_come_and_go(ledger_app, seed):
    """Random ledger, random changes between polls; each poll equals a read with nothing kept."""
    rng = random.Random(seed)
    now = utcnow().replace(second=30, microsecond=0)
    with ledger_app.app_context():
        for _ in range(60):  # history: the last two days, closed hours included
            add(rng.choice([JobState.SUCCESS.value] * 3 + [JobState.FAILURE.value]),
                now - dt.timedelta(minutes=rng.randint(3, 2 * 24 * 60)),
                tenant_id=rng.choice([1, 2, None]), task=rng.choice(TASKS), runtime=rng.randint(1, 900) / 10)
        running = [add(JobState.STARTED.value, None, tenant_id=rng.choice([1, 2]), task=rng.choice(TASKS),
                       started_at=now - dt.timedelta(seconds=rng.randint(1, 600)))
                   for _ in range(4)]
        for step in range(12):
            polled = {t: without_latency(stats.overview(t, TASKS, now)) for t in SCOPES}
            forget()
            fresh = {t: without_latency(stats.overview(t, TASKS, now)) for t in SCOPES}
            for t in SCOPES:
                assert polled[t] == fresh[t], (step, t)
                assert polled[t]["runtimes"] == direct_percentiles(t, now), (step, t)
            # Between polls: jobs finish (the writer may record them a little late), start, fail.
            kind = rng.choice(["success", "success", "failure", "start", "finish"])
            finished = now - dt.timedelta(seconds=rng.randint(0, 50 * 60))
            if kind in ("success", "failure"):
                add(JobState.SUCCESS.value if kind == "success" else JobState.FAILURE.value, finished,
                    tenant_id=rng.choice([1, 2]), task=rng.choice(TASKS), runtime=rng.randint(1, 900) / 10)
            elif kind == "start":
                running.append(add(JobState.STARTED.value, None, tenant_id=rng.choice([1, 2]),
                                   task=rng.choice(TASKS), started_at=now - dt.timedelta(seconds=5)))
            elif running:
                job = db.session.get(Job, running.pop(0))
                job.state, job.finished_at, job.runtime_seconds = JobState.SUCCESS.value, finished, 12.5
                db.session.commit()


def test_a_new_success_shows_on_the_next_poll_and_nothing_is_sampled_while_none_comes(ledger_app):
    # Late in the hour, so every job here is in the live stretch (a job recorded after its
    # closed hour was rolled up is not counted in the hourly series, as before).
    now = utcnow().replace(minute=45, second=30, microsecond=0)
    with ledger_app.app_context():
        for i in range(5):
            add(JobState.SUCCESS.value, now - dt.timedelta(minutes=10 + i), runtime=1.0 + i)
        first = stats.overview(1, TASKS, now)
        seen, again = statements_during(lambda: stats.overview(1, TASKS, now))
        samples = [s for s in seen if "ORDER BY job.finished_at DESC" in s]
        assert again == first and samples == []
        # A success recorded out of order (finished before the newest one) still shows.
        add(JobState.SUCCESS.value, now - dt.timedelta(minutes=40), runtime=50.0)
        after = stats.overview(1, TASKS, now)
    assert first["runtimes"] == [{"task": "noop", "count": 5, "p50": 3.0, "p95": 5.0, "p99": 5.0}]
    assert after["runtimes"] == [{"task": "noop", "count": 6, "p50": 4.0, "p95": 50.0, "p99": 50.0}]
    assert after["last_24h"]["succeeded"] == 6


def test_a_success_dated_before_the_live_stretch_shows_when_the_minute_turns(ledger_app):
    """The documented limit (unchanged from before): a success written hours late waits a minute."""
    now = utcnow().replace(second=30, microsecond=0)
    with ledger_app.app_context():
        add(JobState.SUCCESS.value, now - dt.timedelta(minutes=10), runtime=1.0)
        assert stats.overview(None, TASKS, now)["runtimes"][0]["count"] == 1
        add(JobState.SUCCESS.value, now - dt.timedelta(hours=5), runtime=2.0)
        later = now + dt.timedelta(minutes=1)
        assert stats.overview(None, TASKS, later)["runtimes"] == direct_percentiles(None, later)


def test_closed_hours_are_read_once_an_hour(ledger_app):
    now = utcnow().replace(minute=30, second=0, microsecond=0)
    with ledger_app.app_context():
        add(JobState.SUCCESS.value, now - dt.timedelta(hours=3))
        first = rollups.throughput(None, now)
        seen, again = statements_during(lambda: rollups.throughput(None, now))
        assert again == first
        assert not [s for s in seen if "job_hour_stat" in s]  # neither the marks nor the rows
        next_hour = now + dt.timedelta(hours=1)
        seen, moved = statements_during(lambda: rollups.throughput(None, next_hour))
        assert [s for s in seen if "job_hour_stat" in s]
        forget()
        assert moved == rollups.throughput(None, next_hour)


def test_hours_lost_to_a_concurrent_rollup_are_not_kept(ledger_app, monkeypatch):
    """When another process's rollup wins the race, this one re-reads until it sees the hours."""
    now = utcnow().replace(minute=30, second=0, microsecond=0)
    with ledger_app.app_context():
        add(JobState.SUCCESS.value, now - dt.timedelta(hours=3))
        monkeypatch.setattr(rollups, "_roll_up", lambda *args: False)  # lost, nothing written yet
        lost = rollups.throughput(None, now)
        monkeypatch.undo()
        won = rollups.throughput(None, now)
    assert sum(h["completed"] for h in lost["per_hour"]) == 0
    assert sum(h["completed"] for h in won["per_hour"]) == 1


def test_running_views_equal_the_views_of_the_orm_jobs(ledger_app):
    now = utcnow().replace(microsecond=0)
    with ledger_app.app_context():
        for i in range(7):
            add(JobState.STARTED.value, None, tenant_id=1 + i % 2, task=TASKS[i % 3],
                started_at=now - dt.timedelta(minutes=i + 1, seconds=i),
                enqueued_at=now - dt.timedelta(minutes=i + 2),
                heartbeat_at=None if i % 3 == 0 else now - dt.timedelta(seconds=30 * i),
                worker_id=f"host:{i}", progress_done=i * 10, progress_total=None if i == 4 else 100,
                progress_message="Rows" if i % 2 else None, args={"args": [i], "manual": i == 2},
                result={"ok": i} if i == 5 else None, eta=now - dt.timedelta(minutes=9) if i == 6 else None)
        add(JobState.SUCCESS.value, now - dt.timedelta(minutes=1))
        for tenant_id in (None, 1, 2):
            scope = (stats.everything if tenant_id is None
                     else (lambda stmt, t=tenant_id: stmt.where(Job.tenant_id == t)))
            for limit in (50, 3):
                expected = [stats.job_view(j, now, 60) for j in stats.running_jobs(scope, limit)]
                assert stats.running_views(tenant_id, now, 60, limit) == expected
                assert expected
        assert stats.running_views(3, now, 60) == []


def test_queue_figures_from_the_built_once_statement_equal_a_direct_count(ledger_app):
    now = utcnow().replace(microsecond=0)
    with ledger_app.app_context():
        for tenant in (1, 2):
            add(JobState.PENDING.value, None, tenant_id=tenant)
            add(JobState.PENDING.value, None, tenant_id=tenant, eta=now + dt.timedelta(hours=1))
            add(JobState.PENDING.value, None, tenant_id=tenant, eta=now - dt.timedelta(hours=1))
        add(JobState.RETRY.value, None, tenant_id=2, eta=now + dt.timedelta(minutes=5))
        add(JobState.STARTED.value, None, tenant_id=1, started_at=now)
        figures = {t: stats.queue_figures(t, now) for t in SCOPES}
    def short(f):
        return f["pending_total"], f["scheduled"], f["retrying"], f["running"], f["pending"]["maintenance"]
    assert short(figures[None]) == (4, 3, 1, 1, 4)
    assert short(figures[1]) == (2, 1, 0, 1, 2)
    assert short(figures[2]) == (2, 2, 1, 0, 2)
