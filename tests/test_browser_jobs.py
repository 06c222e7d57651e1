"""One real browser on the job dashboard: the overview updates live, and a retry click works.

The app is served by werkzeug in a thread on a real SQLite queue, with CSRF on, and a
real `huey_consumer` runs the jobs.
"""
import pytest

from conftest import PASSWORD
from conftest import People
from conftest import base_config
from conftest import make_app
from conftest import wait_for
from paydash import jobs
from paydash.extensions import db
from paydash.models import JobState
from paydash.models import utcnow


@pytest.fixture
def served(tmp_path, sqlite_url, start_consumer, serve_app):
    """The app with CSRF on and a real consumer, served on a free port."""
    app = make_app(base_config(tmp_path, sqlite_url, WTF_CSRF_ENABLED=True))
    People(app)
    start_consumer(app, workers=2)
    return app, serve_app(app)


@pytest.fixture
def page(browser_page):
    """A Chromium page with the browser's default context."""
    return browser_page()


def queue_noops(app, count: int, seconds: float) -> None:
    with app.app_context():
        created = [jobs.create_job("noop", args=(seconds,)) for _ in range(count)]
        jobs.commit_and_dispatch(*created)


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
    page.goto(f"{base}/login")
    page.fill("input[name=email]", "ops@paydash.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
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
