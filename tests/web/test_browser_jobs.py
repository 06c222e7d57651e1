"""One real browser on the job dashboard: the overview and a running job's detail page update
live, and a retry click works.

The app is served by werkzeug in a thread on a real SQLite queue, with CSRF on, and a
real `huey_consumer` runs the jobs (the detail page's test moves its job by hand instead).
"""
import datetime as dt
import re

import pytest
from conftest import PASSWORD
from conftest import People
from conftest import base_config
from conftest import make_app
from conftest import wait_for

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger.models import Job
from paydash.ledger.models import JobState


@pytest.fixture
def served(tmp_path, sqlite_url, start_consumer, serve_app):
    """The app with CSRF on and a real consumer, served on a free port."""
    app = make_app(base_config(tmp_path, sqlite_url, WTF_CSRF_ENABLED=True))
    People(app)
    start_consumer(app, workers=2)
    return app, serve_app(app)


@pytest.fixture
def served_alone(tmp_path, sqlite_url, serve_app):
    """The app with CSRF on, served on a free port, with no consumer: the test moves the jobs."""
    app = make_app(base_config(tmp_path, sqlite_url, WTF_CSRF_ENABLED=True))
    People(app)
    return app, serve_app(app)


@pytest.fixture
def page(browser_page):
    """A Chromium page with the browser's default context."""
    return browser_page()


def queue_noops(app, count: int, seconds: float) -> None:
    with app.app_context():
        created = [jobs.create_job("noop", args=(seconds,)) for _ in range(count)]
        jobs.commit_and_dispatch(*created)


def sign_in(page, base: str, email: str = "ops@paydash.test") -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def set_job(app, job_id: str, **values) -> None:
    with app.app_context():
        job = db.session.get(Job, job_id)
        for name, value in values.items():
            setattr(job, name, value)
        db.session.commit()


def failed_noop(app) -> str:
    with app.app_context():
        job = jobs.create_job("noop", args=(0,))
        job.state, job.error, job.finished_at = JobState.FAILURE.value, "RuntimeError: boom", utcnow()
        db.session.commit()
        return job.id


@pytest.mark.browser
def test_overview_updates_live_and_a_retry_click_runs_the_job_again(served, page):
    app, base = served
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    sign_in(page, base)
    page.goto(f"{base}/jobs/")
    # The consumer's own periodic recovery run may already count as a success.
    before = int(page.locator("#kpi-succeeded").inner_text())
    page.evaluate("window.__notReloaded = true")

    queue_noops(app, 4, 0.3)
    wait_for(lambda: int(page.locator("#kpi-succeeded").inner_text()) >= before + 4,
             timeout=30, interval=0.25, message="the overview to count the new successes")
    assert page.evaluate("window.__notReloaded === true")

    job_id = failed_noop(app)
    page.goto(f"{base}/jobs/{job_id}")
    page.get_by_role("link", name="Retry…").click()
    page.get_by_role("heading", name="What it already did").wait_for()
    page.get_by_role("button", name="Retry job").click()
    page.locator(".badge-SUCCESS").first.wait_for(timeout=30_000)
    assert page.url.endswith(f"/jobs/{job_id}")
    assert not [p for p in problems if "Content Security Policy" in p], problems


@pytest.mark.browser
def test_running_jobs_detail_page_moves_its_progress_in_place_and_reloads_when_it_finishes(
        served_alone, page):
    from playwright.sync_api import expect  # noqa: PLC0415
    app, base = served_alone
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    now = utcnow()
    with app.app_context():
        job = jobs.create_job("noop", args=(0,))
        job.state, job.attempts, job.max_attempts = JobState.STARTED.value, 1, 3
        job.enqueued_at, job.started_at = now - dt.timedelta(seconds=21), now - dt.timedelta(seconds=20)
        job.heartbeat_at, job.worker_id = now, "elsewhere:1"
        job.progress_done, job.progress_total, job.progress_message = 100, 1000, "Reading rows"
        db.session.commit()
        job_id = job.id

    sign_in(page, base)
    page.goto(f"{base}/jobs/{job_id}")
    progress = page.locator("#job-detail [data-progress]")
    running = page.locator('#job-detail [data-k="timings.running"]')
    expect(progress).to_contain_text("100 / 1,000")
    expect(progress).to_contain_text("Reading rows")
    started_text = running.inner_text()
    page.evaluate("window.__noReload = 1")

    set_job(app, job_id, progress_done=400, progress_message="Checking totals", heartbeat_at=utcnow(),
            attempts=2)
    expect(progress).to_contain_text("400 / 1,000", timeout=10_000)
    expect(progress).to_contain_text("Checking totals")
    expect(progress).to_contain_text("/s · ETA ")
    expect(progress.locator(".progress span")).to_have_attribute("style", re.compile(r"width: 40%"))
    expect(progress.locator(".progress")).to_have_attribute("aria-valuenow", "40")
    expect(page.locator('#job-detail [data-k="attempts"]')).to_have_text("2")
    expect(running).not_to_have_text(started_text, timeout=10_000)
    assert re.fullmatch(r"\d+ s|\d+ min \d+ s", running.inner_text())
    assert page.evaluate("window.__noReload") == 1

    set_job(app, job_id, state=JobState.SUCCESS.value, finished_at=utcnow(), runtime_seconds=25.0,
            progress_done=1000, progress_message="All rows saved")
    expect(page.locator("#job-detail .badge-SUCCESS")).to_be_visible(timeout=10_000)
    expect(page.locator("#job-detail")).to_have_attribute("data-finished", "true")
    expect(progress).to_contain_text("1,000 / 1,000")
    assert page.evaluate("window.__noReload") is None
    assert not [p for p in problems if "Content Security Policy" in p], problems
