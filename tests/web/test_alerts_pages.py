"""The alert settings page and the overview's open problems, as admins see them."""
import datetime as dt
import uuid

import sqlalchemy as sa
from conftest import login

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.models import AlertDelivery
from paydash.models import AlertSetting


def add_job(**values):
    db.session.add(Job(id=str(uuid.uuid4()), task_name="import_salary_sheet", queue="imports", **values))
    db.session.commit()


def test_a_tenant_admin_chooses_only_among_their_tenants_alerts(app, people):
    client = login(app.test_client(), "admin@acme.test")
    page = client.get("/alerts/settings").get_data(as_text=True)
    assert "A job failed for good" in page
    assert "No worker running" not in page  # Platform-wide: for operators only.
    assert "Now sent to: admin@acme.test" in page


def test_hr_users_cannot_open_alert_settings(app, people):
    client = login(app.test_client(), "hr@acme.test")
    assert client.get("/alerts/settings").status_code == 403


def test_a_bad_address_is_refused_in_plain_words_and_the_form_keeps_what_was_typed(app, people):
    client = login(app.test_client(), "admin@acme.test")
    response = client.post("/alerts/settings", data={"emails": "anil@acme.test, anil at acme",
                                                     "webhook_url": "https://hooks.example/x",
                                                     "wanted": ["job_failed"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "&#39;anil&#39; is not an email address" in page
    assert "anil@acme.test, anil at acme" in page and "https://hooks.example/x" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AlertSetting)) == 0


def test_saved_settings_are_the_tenants_own(app, people):
    client = login(app.test_client(), "admin@acme.test")
    response = client.post("/alerts/settings", data={"emails": "payroll@acme.test; boss@acme.test",
                                                     "webhook_url": "", "wanted": ["job_failed"]})
    assert response.status_code == 302
    with app.app_context():
        [setting] = db.session.scalars(sa.select(AlertSetting))
        assert setting.scope == f"tenant:{people.tenant_a}"
        assert setting.emails == "payroll@acme.test, boss@acme.test"
        assert "queue_stuck" in setting.disabled and "job_failed" not in setting.disabled


def test_the_overview_shows_open_problems_first_each_linked_to_what_to_do(app, people):
    now = utcnow()
    with app.app_context():
        for _ in range(2):
            add_job(state="FAILURE", tenant_id=people.tenant_a, finished_at=now - dt.timedelta(minutes=5),
                    error="boom")
        add_job(state="PENDING", tenant_id=people.tenant_a, created_at=now - dt.timedelta(minutes=16, seconds=5))
        add_job(state="FAILURE", tenant_id=people.tenant_b, finished_at=now, error="other tenant")
    page = login(app.test_client(), "admin@acme.test").get("/jobs/").get_data(as_text=True)
    assert "Needs a human: 2 jobs failed for good in the last hour; oldest pending 16 min (imports)" in page
    assert page.index("Needs a human") < page.index("Pending · ")
    assert 'href="/jobs/list?state=PENDING&amp;queue=imports"' in page
    operator_page = login(app.test_client(), "ops@paydash.test").get("/jobs/").get_data(as_text=True)
    assert "3 jobs failed for good in the last hour" in operator_page
    assert "No worker is running" in operator_page


def test_a_quiet_ledger_shows_no_problem_box(app, people):
    page = login(app.test_client(), "admin@acme.test").get("/jobs/").get_data(as_text=True)
    assert "Needs a human" not in page


def test_a_tenant_cannot_point_its_webhook_inside_the_platforms_network(app, people):
    client = login(app.test_client(), "admin@acme.test")
    response = client.post("/alerts/settings", data={"emails": "", "webhook_url": "http://169.254.169.254/latest",
                                                     "wanted": ["job_failed"]})
    assert response.status_code == 400
    assert "This webhook cannot be used: the webhook host 169.254.169.254 is a private address" in \
        response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AlertSetting)) == 0


def test_a_test_message_is_queued_for_the_worker_to_send(app, people):
    client = login(app.test_client(), "admin@acme.test")
    response = client.post("/alerts/test", follow_redirects=True)
    assert "A test message is on its way" in response.get_data(as_text=True)
    with app.app_context():
        [row] = db.session.scalars(sa.select(AlertDelivery))
        assert (row.kind, row.channel, row.target, row.status) == ("test", "email", "admin@acme.test", "pending")
        assert row.subject == "[Paydash] Test message - Acme Traders"
