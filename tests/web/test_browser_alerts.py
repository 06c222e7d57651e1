"""A real browser on the alert settings page: a tenant admin mutes an alert, then unmutes it."""
import pytest
import sqlalchemy as sa
from conftest import PASSWORD
from conftest import People
from conftest import base_config
from conftest import make_app

from paydash.extensions import db
from paydash.models import AlertSetting

pytestmark = pytest.mark.browser


@pytest.fixture
def served(tmp_path, sqlite_url, serve_app):
    """The app with CSRF on, served on a free port."""
    app = make_app(base_config(tmp_path, sqlite_url, WTF_CSRF_ENABLED=True))
    people = People(app)
    return app, people, serve_app(app)


def test_a_tenant_admin_mutes_an_alert_for_a_day_and_unmutes_it(served, browser_page):
    app, people, base = served
    page = browser_page()
    page.goto(f"{base}/login")
    page.fill("input[name=email]", "admin@acme.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{base}/jobs/")
    page.click("nav.jobs-subnav >> text=Alerts")
    row = page.locator("tr[data-condition=job_failed]")
    row.locator("select[name=hours]").select_option(label="1 day")
    row.locator("button", has_text="Mute").click()
    assert "Muted “A job failed for good (all attempts used)” until" in page.locator(".flash-success").inner_text()
    assert "Muted until" in page.locator("tr[data-condition=job_failed]").inner_text()
    assert "Muted until" not in page.locator("tr[data-condition=queue_stuck]").inner_text()
    with app.app_context():
        [setting] = db.session.scalars(sa.select(AlertSetting))
        assert setting.scope == f"tenant:{people.tenant_a}" and list(setting.muted) == ["job_failed"]
    page.locator("tr[data-condition=job_failed] button", has_text="Unmute").click()
    assert "is no longer muted" in page.locator(".flash-success").inner_text()
    assert "Muted until" not in page.locator("tr[data-condition=job_failed]").inner_text()
