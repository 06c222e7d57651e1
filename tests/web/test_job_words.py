"""HR reads its work in its own words and sees only tabs it may open; admins keep the technical view."""
import re

import pytest
from conftest import login

from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger.models import JobState

ROLES = ["hr@acme.test", "admin@acme.test", "ops@paydash.test", "viewer@paydash.test"]


def _job(app, people, task, state, result=None, year=2024, month=4):
    with app.app_context():
        job = jobs.create_job(task, args=(0,), tenant_id=people.tenant_a, requested_by_id=people.hr_a)
        job.state, job.result, job.year, job.month = state, result, year, month
        db.session.commit()
        return job.id


@pytest.fixture
def work(app, people):
    return {
        "saving": _job(app, people, "commit_salary_sheet", JobState.STARTED.value),
        "synced": _job(app, people, "sync_chart_data_batch", JobState.SUCCESS.value,
                       {"tenant_id": people.tenant_a, "year": 2024, "month": 4, "headcount": 42,
                        "departments": 5, "rows_written": 60, "rows_deleted": 0, "source": "excel"}),
        "checked": _job(app, people, "import_salary_sheet", JobState.SUCCESS.value,
                        {"upload_id": 1, "status": "preview", "employee_count": 42,
                         "error_count": 1, "warning_count": 0}),
    }


def visible(html: str) -> str:
    """What a person reads on the page: text outside tags, scripts left out."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_hr_job_list_names_work_in_hr_words_without_queue_or_job_id_filters(app, work):
    text = visible(login(app.test_client(), "hr@acme.test").get("/jobs/list").get_data(as_text=True))
    assert "Saving the April 2024 salary sheet" in text
    assert "Dashboard updated for April 2024" in text
    for jargon in ("commit_salary_sheet", "sync_chart_data_batch", "import_salary_sheet",
                   "Job id starts with", "Queue"):
        assert jargon not in text


def test_admins_keep_the_technical_job_list(app, work):
    text = login(app.test_client(), "admin@acme.test").get("/jobs/list").get_data(as_text=True)
    assert "commit_salary_sheet" in text and "Job id starts with" in text and ">Queue<" in text


@pytest.mark.parametrize("email", ROLES)
def test_every_jobs_tab_a_role_is_shown_opens_for_it(app, people, email):
    client = login(app.test_client(), email)
    for start in ("/jobs/", "/jobs/list"):
        page = client.get(start).get_data(as_text=True)
        nav = re.search(r'<nav class="jobs-subnav".*?</nav>', page, re.S)
        tabs = re.findall(r'href="([^"]+)"', nav.group(0)) if nav else []
        for href in tabs:
            assert client.get(href).status_code == 200, (email, href)
    if email == "hr@acme.test":
        assert "/jobs/scheduled" not in page


def test_hr_job_detail_has_a_title_and_a_sentence_not_json(app, work):
    client = login(app.test_client(), "hr@acme.test")
    synced = client.get(f"/jobs/{work['synced']}").get_data(as_text=True)
    assert "<h1>Dashboard updated for April 2024</h1>" in synced
    synced = visible(synced)
    assert "The dashboard now shows 42 people in 5 departments." in synced
    assert "rows_written" not in synced and "sync_chart_data_batch" not in synced
    assert "Time running" not in synced
    checked = client.get(f"/jobs/{work['checked']}").get_data(as_text=True)
    assert "42 employees, 1 row problem to fix and 0 warnings" in checked


def test_admin_job_detail_keeps_task_name_and_raw_result(app, work):
    text = login(app.test_client(), "admin@acme.test").get(f"/jobs/{work['synced']}").get_data(as_text=True)
    assert "sync_chart_data_batch" in text and "rows_written" in text and "Time running" in text
