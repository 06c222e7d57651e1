"""Issue 17, item 8: the small things a newcomer tripped over."""
import re

from conftest import login

from paydash.extensions import db
from paydash.ledger import jobs
from paydash.models import ChartAggregatedData
from paydash.models import PayrollMonth
from paydash.web.links import month_dashboard_url


def test_periodic_page_counts_pending_jobs_per_task_instead_of_saying_list(app, people):
    with app.app_context():
        for _ in range(3):
            jobs.create_job("recover_lost_jobs")
        db.session.commit()
    page = login(app.test_client(), "ops@paydash.test").get("/jobs/periodic").get_data(as_text=True)
    assert ">list<" not in page
    assert 'aria-label="3 pending recover_lost_jobs jobs">3</a>' in page


def test_overview_says_nothing_waiting_rather_than_oldest_pending_0_s(app, people):
    page = login(app.test_client(), "ops@paydash.test").get("/jobs/").get_data(as_text=True)
    assert 'data-format="pending-age">Nothing waiting<' in page


def test_the_upload_pages_dashboard_link_opens_that_month_not_a_custom_range(app, people):
    with app.app_context():
        db.session.add(ChartAggregatedData(tenant_id=people.tenant_a, year=2024, month=4, kind="dept",
                                           department="Sales", headcount=3, gross=300, net=270))
        db.session.commit()
        with app.test_request_context():
            url = month_dashboard_url(2024, 4)
    client = login(app.test_client(), "hr@acme.test")
    query = url.split("?", 1)[1]
    period = client.get(f"/api/dashboard/summary?{query}").get_json()["period"]
    assert (period["preset"], period["label"]) == ("month", "Apr 2024")
    page = client.get(url).get_data(as_text=True)
    assert re.search(r'id="period-month" value="month"\s+checked', page)
    assert not re.search(r'id="period-custom" value="custom"\s+checked', page)


def test_a_saved_months_variance_box_no_longer_says_check_before_saving(app, people):
    with app.app_context():
        db.session.add(PayrollMonth(tenant_id=people.tenant_a, year=2024, month=4, status="saved",
                                    draft={"inputs": {}, "saved_at": "x", "by": None}))
        db.session.commit()
    page = login(app.test_client(), "hr@acme.test").get("/payroll/2024/4").get_data(as_text=True)
    assert '<span id="variance-lead">Saved with</span>' in page
