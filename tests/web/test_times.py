"""One clock: every page shows times in the tenant's zone, labelled, relative when recent."""
import datetime as dt
import re

import pytest
from conftest import login

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger.models import JobState
from paydash.models import AuditLog
from paydash.models import PayrollMonth
from paydash.models import Tenant
from paydash.web.times import format_when
from paydash.web.times import moment
from paydash.web.times import relative

STORED = dt.datetime(2026, 12, 4, 0, 5, 52, 896803)  # naive UTC, as the database keeps it
LATER = dt.datetime(2026, 12, 9)


def test_a_stored_utc_time_reads_in_india_with_its_label_and_offset():
    html = str(format_when(STORED, "Asia/Kolkata", now=LATER))
    assert ">4 Dec 2026, 5:35 am IST</time>" in html
    assert 'datetime="2026-12-04T05:35:52+05:30"' in html


def test_iso_text_with_z_an_offset_or_none_is_the_same_moment():
    for text in ("2026-12-04T00:05:52Z", "2026-12-04T05:35:52+05:30", "2026-12-04T00:05:52"):
        assert moment(text) == dt.datetime(2026, 12, 4, 0, 5, 52, tzinfo=dt.UTC)


def test_recent_times_also_say_how_long_ago():
    html = str(format_when(STORED, "Asia/Kolkata", now=STORED + dt.timedelta(minutes=5, seconds=10)))
    assert "5:35 am IST · 5 min ago" in html
    assert relative(STORED, STORED + dt.timedelta(hours=3)) == "3 h ago"
    assert relative(STORED + dt.timedelta(minutes=12), STORED) == "in 12 min"
    assert relative(STORED, STORED + dt.timedelta(days=2)) == ""


def test_zones_without_a_letter_abbreviation_get_a_utc_offset_label():
    assert "4:05 am UTC+04</time>" in str(format_when(STORED, "Asia/Dubai", now=LATER))
    assert "12:05 am GMT</time>" in str(format_when(STORED, "Europe/London", now=LATER))


def test_unknown_time_is_a_dash():
    assert str(format_when(None, "Asia/Kolkata")) == "—"


def _seed_times(app, people):
    with app.app_context():
        job = jobs.create_job("commit_salary_sheet", args=(0,), tenant_id=people.tenant_a,
                              requested_by_id=people.hr_a)
        job.created_at, job.state, job.year, job.month = STORED, JobState.SUCCESS.value, 2026, 11
        job.finished_at = STORED + dt.timedelta(seconds=4)
        db.session.add(PayrollMonth(tenant_id=people.tenant_a, year=2026, month=10, status="saved",
                                    saved_at=STORED, draft={}))
        db.session.add(AuditLog(action="login", user_id=people.admin_a, tenant_id=people.tenant_a,
                                target="admin@acme.test", at=STORED))
        db.session.commit()
        return job.id


def test_every_page_with_times_shows_them_in_ist_and_none_in_utc(app, people):
    job_id = _seed_times(app, people)
    hr = login(app.test_client(), "hr@acme.test")
    admin = login(app.test_client(), "admin@acme.test")
    pages = [(hr, "/jobs/"), (hr, f"/jobs/{job_id}"), (hr, "/jobs/list"), (hr, "/payroll/"),
             (admin, "/admin/audit"), (admin, f"/jobs/{job_id}"), (admin, "/jobs/list")]
    for client, url in pages:
        text = client.get(url).get_data(as_text=True)
        assert "4 Dec 2026, 5:35 am IST" in text, url
        assert not re.search(r"\d\d:\d\d(:\d\d)? UTC|\(UTC\)|T00:05:52", text), url


def test_an_admin_changes_the_tenant_zone_and_pages_follow(app, people):
    job_id = _seed_times(app, people)
    admin = login(app.test_client(), "admin@acme.test")
    assert admin.post("/admin/settings", data={"timezone": "Europe/London"}).status_code == 303
    assert "4 Dec 2026, 12:05 am GMT" in admin.get(f"/jobs/{job_id}").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Tenant, people.tenant_a).timezone == "Europe/London"
        assert db.session.get(Tenant, people.tenant_b).timezone == "Asia/Kolkata"
    assert "Time zone changed" in admin.get("/admin/audit").get_data(as_text=True)


def test_a_zone_that_does_not_exist_is_refused_in_words_and_nothing_changes(app, people):
    admin = login(app.test_client(), "admin@acme.test")
    response = admin.post("/admin/settings", data={"timezone": "Mars/Olympus"})
    assert response.status_code == 400
    assert "is not a time zone Paydash knows" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Tenant, people.tenant_a).timezone == "Asia/Kolkata"


@pytest.mark.parametrize("email", ["hr@acme.test", "ops@paydash.test"])
def test_only_tenant_admins_change_the_zone(app, people, email):
    assert login(app.test_client(), email).post(
        "/admin/settings", data={"timezone": "UTC"}).status_code == 403


def test_the_job_list_reads_from_and_to_in_the_tenants_zone(app, people):
    _seed_times(app, people)
    hr = login(app.test_client(), "hr@acme.test")
    # 05:30 IST is 00:00 UTC: the job (00:05 UTC) is after it; 05:40 IST (00:10 UTC) is after the job.
    found = hr.get("/jobs/list?since=2026-12-04T05:30&until=2026-12-04T05:40").get_data(as_text=True)
    assert "salary sheet saved" in found
    missed = hr.get("/jobs/list?since=2026-12-04T05:36").get_data(as_text=True)
    assert "salary sheet saved" not in missed


def test_the_json_api_keeps_iso_8601_with_an_offset(app, people):
    job_id = _seed_times(app, people)
    body = login(app.test_client(), "hr@acme.test").get(f"/api/jobs/{job_id}").get_json()
    assert moment(body["created_at"]) == STORED.replace(tzinfo=dt.UTC)
    assert body["created_at"].endswith(("Z", "+00:00"))


def test_new_tenants_default_to_india(app, people):
    with app.app_context():
        assert db.session.get(Tenant, people.tenant_a).timezone == "Asia/Kolkata"
    assert utcnow().tzinfo is None


def test_the_audit_logs_date_filter_means_days_in_the_tenants_zone(app, people):
    # 8:00 pm UTC on 3 Dec is 1:30 am on 4 Dec in India: a filter for 4 Dec finds it, 3 Dec does not.
    with app.app_context():
        db.session.add(AuditLog(tenant_id=people.tenant_a, action="upload.discarded",
                                target="Late-night discard", at=dt.datetime(2026, 12, 3, 20, 0)))
        db.session.commit()
    admin = login(app.test_client(), "admin@acme.test")
    on_the_4th = admin.get("/admin/audit?from=2026-12-04&to=2026-12-04").get_data(as_text=True)
    on_the_3rd = admin.get("/admin/audit?from=2026-12-03&to=2026-12-03").get_data(as_text=True)
    assert "Late-night discard" in on_the_4th
    assert "Late-night discard" not in on_the_3rd
