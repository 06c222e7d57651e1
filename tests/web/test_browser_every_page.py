"""Every page, as every role, on a phone (360 px) and a laptop (1280 px), in Chromium.

The pages are found from the app's URL map, so a page added later is visited too: every GET
rule is filled from the route walk's PARAMS (tests/web/test_route_walk.py; a tenant-owned
parameter takes tenant A's first row of that model) or from the richer choices below, and
kept for a role when the test client gets HTML with a 200 for it. On each page, at each
width: the page does not scroll sideways and every action is on screen (tests/web/page_check.py);
at laptop width axe-core finds no serious or critical violation.
"""
import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa
from conftest import PASSWORD
from conftest import People
from conftest import base_config
from conftest import login
from conftest import make_app
from page_check import LAYOUT_PROBLEMS
from page_check import serious_axe_violations
from test_route_walk import PARAMS
from test_route_walk import Owned

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger.models import JobState
from paydash.models import Tenant
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.services import demo
from paydash.services import demo_history
from paydash.sheets.salary_sheet import read_salary_sheet

ROLES = ["hr@acme.test", "admin@acme.test", "ops@paydash.test", "viewer@paydash.test"]
WIDTHS = (360, 1280)
MONTHS = 4


def seed_pages(app, people) -> dict:
    """Tenant A with a few months of history, an upload waiting for confirmation, and jobs
    in every state a page shows differently; returns the ids the URLs are filled with."""
    with app.app_context():
        tenant = db.session.get(Tenant, people.tenant_a)
        last = demo.month_index_of_last_month()
        rows = demo.generate_payroll(14, MONTHS, last)
        demo_history.seed_history(tenant, people.hr_a, rows, last, MONTHS)
        demo.sync_missing_charts(tenant.id)
        year, month = divmod(last, 12)
        # A big employer's month: totals in crores must fit their cards on a phone.
        big = [dict(r, **{k: r[k] * 997 for k in ("fixed_salary", "gross", "net", "ot_pay", "tds")})
               for r in rows if (r["year"], r["month"]) == (year, month + 1)]
        data = demo_history.salary_workbook(big, "Salary")
        report = read_salary_sheet(data)
        waiting = Upload(tenant_id=tenant.id, uploaded_by_id=people.hr_a, filename="Salary new.xlsx",
                         content=data, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                         year=year, month=month + 1, status=UploadStatus.PREVIEW.value,
                         preview=report.as_preview(), employee_count=report.employee_count,
                         gross_total=report.totals["gross"], net_total=report.totals["net"])
        db.session.add(waiting)
        failed = jobs.create_job("sync_chart_data_batch", args=(tenant.id, year, month + 1, "excel"),
                                 queue="chart_sync", tenant_id=tenant.id, year=year, month=month + 1,
                                 requested_by_id=people.hr_a)
        failed.state, failed.error, failed.attempts = JobState.FAILURE.value, "OperationalError: database is locked", 4
        failed.traceback = "Traceback (most recent call last):\n  ...\nOperationalError: database is locked"
        failed.finished_at = utcnow()
        later = jobs.create_job("noop", args=(0,), tenant_id=tenant.id)
        later.eta = utcnow() + dt.timedelta(hours=1)
        db.session.commit()
        return {"upload_id": waiting.id, "job_id": failed.id, "year": year, "month": month + 1}


def page_urls(app, client, chosen: dict) -> list[str]:
    """Every GET page of the URL map that answers this client with HTML."""
    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        values = {}
        for name in rule.arguments:
            if name in chosen:
                values[name] = chosen[name]
            elif isinstance(PARAMS.get(name), Owned):
                values[name] = _first_of(app, PARAMS[name].model)
            elif name in PARAMS:
                values[name] = PARAMS[name]
            else:
                pytest.fail(f"{rule.rule}: add a value for <{name}> to PARAMS in test_route_walk.py")
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **values)
        response = client.get(url, headers={"Accept": "text/html"})
        if response.status_code == 200 and response.mimetype == "text/html":
            urls.append(url)
    return urls


def _first_of(app, model):
    with app.app_context():
        return db.session.scalar(sa.select(model.id).order_by(model.id))


@pytest.fixture
def site(tmp_path, sqlite_url, serve_app):
    app = make_app(base_config(tmp_path, sqlite_url, WTF_CSRF_ENABLED=True))
    people = People(app)
    chosen = seed_pages(app, people)
    return app, serve_app(app), chosen


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def check_pages(page, base: str, urls: list[str], axe: bool = True) -> list[str]:
    problems = []
    for url in urls:
        page.set_viewport_size({"width": WIDTHS[-1], "height": 900})
        page.goto(base + url)
        page.wait_for_load_state("networkidle")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            found = page.evaluate(LAYOUT_PROBLEMS)
            more = [f"... and {len(found) - 4} more"] if len(found) > 4 else []
            problems += [f"{url} at {width} px: {p}" for p in found[:4] + more]
        if axe:
            page.set_viewport_size({"width": WIDTHS[-1], "height": 900})
            problems += [f"{url}: {p}" for p in serious_axe_violations(page)]
    return problems


@pytest.mark.browser
@pytest.mark.parametrize("email", ROLES)
def test_every_page_fits_a_phone_and_a_laptop_and_passes_axe(site, browser_page, email):
    app, base, chosen = site
    urls = page_urls(app, login(app.test_client(), email), chosen)
    assert len(urls) >= 5, urls  # the walk found the role's pages, not just an error page
    page = browser_page()
    sign_in(page, base, email)
    problems = check_pages(page, base, urls)
    assert problems == [], "\n".join(problems)


@pytest.mark.browser
def test_the_sign_in_page_fits_and_passes_axe(site, browser_page):
    _app, base, _chosen = site
    page = browser_page()
    assert check_pages(page, base, ["/login"]) == []
