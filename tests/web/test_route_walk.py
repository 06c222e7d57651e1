"""Walk every rule of the app's URL map as every kind of person, with real and guessed ids.

Built from `app.url_map`, so routes added later are walked too: each URL parameter is
filled from PARAMS (a tenant-owned model, or a fixed value). Asserted for every request:
no 500; anonymous visitors get 401 or a redirect to sign-in; someone of tenant A given
tenant B's object gets 404 (or 403 when their role may not use the route at all); no page
a tenant user opens shows tenant B's marker strings; and after the walk nothing of the
other tenant (nor, for the read-only operator, of anyone) has changed.
"""
import dataclasses
import hashlib
import json
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa
from conftest import login
from hostile_files import valid_xlsx

from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.ledger.models import PausedTask
from paydash.models import AuditLog
from paydash.models import ChartAggregatedData
from paydash.models import Employee
from paydash.models import PayrollMonth
from paydash.models import SalaryRow
from paydash.models import Tenant
from paydash.models import Upload
from paydash.models import User

# Public on purpose: health checks and the trivial baseline endpoint reveal no data.
PUBLIC = {"static", "auth.login", "auth.logout", "metrics.healthz", "metrics.metrics", "metrics.ping",
          "auth.code", "auth.reset"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
GUESSED_INT = 987654
GUESSED_STR = str(uuid.UUID(int=42))
# Strings that exist only in tenant B's data: no page shown to tenant A may contain one.
B_MARKERS = ("Bharat Motors", "Zubin Bharatonly", "bharat-secret-payroll", "BHARAT-JOB-SECRET",
             "hr@bharat.test", "BharatOnlyDept")
A_MARKERS = ("Acme Traders", "Asha Acmeonly", "acme-secret-payroll", "ACME-JOB-SECRET",
             "hr@acme.test", "AcmeOnlyDept")


@dataclasses.dataclass(frozen=True)
class Owned:
    """A URL parameter naming a tenant-owned object of `model` (ids from the seeded data)."""

    model: type


# How to fill each URL parameter. A name missing here fails test_every_url_parameter_is_known,
# so a new route is never walked with a meaningless value by accident.
PARAMS = {
    "upload_id": Owned(Upload),
    "employee_id": Owned(Employee),
    "job_id": Owned(Job),
    "user_id": Owned(User),
    "year": 2024,
    "month": 10,
    "task_name": "recover_lost_jobs",
    "action": "pause",
    "fmt": "csv",
    "filename": "css/app.css",
    "kind": "dept",
    "format": "csv",
    "token": "not-a-reset-token",
}


@dataclasses.dataclass
class Seeded:
    ids: dict  # (model name, "A" | "B") -> id

    def owned(self, model, tenant: str):
        return self.ids[(model.__name__, tenant)]


def _seed_tenant(people, tenant_key: str, markers: tuple) -> dict:
    tenant_id = people.tenant_a if tenant_key == "A" else people.tenant_b
    hr_id = people.hr_a if tenant_key == "A" else people.hr_b
    colleague = people.hr_a2 if tenant_key == "A" else people.hr_b
    name, person, filename, job_secret, _email, dept = markers
    upload = Upload(tenant_id=tenant_id, uploaded_by_id=hr_id, filename=f"{filename}.xlsx",
                    content=valid_xlsx(), sha256=hashlib.sha256(b"x").hexdigest(), size=10,
                    year=2024, month=10, status="preview", employee_count=1,
                    gross_total=Decimal(100), net_total=Decimal(90),
                    preview={"sheet": "Salary", "employee_count": 1, "errors": [], "warnings": [],
                             "mapping": [], "totals": {"gross": "100.00", "net": "90.00"},
                             "departments": {dept: 1}, "duplicates": [], "fatal": None})
    db.session.add(upload)
    db.session.flush()
    job = Job(id=str(uuid.uuid4()), task_name="import_salary_sheet", queue="imports",
              tenant_id=tenant_id, upload_id=upload.id, requested_by_id=hr_id, state="FAILURE",
              error=f"{job_secret} failed", year=2024, month=10,
              args={"upload_id": upload.id, "tenant_id": tenant_id})
    upload.job_id = job.id
    db.session.add(job)
    db.session.add(SalaryRow(tenant_id=tenant_id, year=2024, month=9, employee_key="E1",
                             employee_code="E1", employee_name=person, department=dept,
                             gross=Decimal(100), net=Decimal(90), fixed_salary=Decimal(100)))
    db.session.add(ChartAggregatedData(tenant_id=tenant_id, year=2024, month=9, kind="top",
                                       bucket="1", label=person, headcount=1, department=dept,
                                       gross=Decimal(100), net=Decimal(90)))
    employee = Employee(tenant_id=tenant_id, code="E1", name=person, department=dept,
                        monthly_salary=Decimal(100))
    db.session.add(employee)
    db.session.add(PayrollMonth(tenant_id=tenant_id, year=2024, month=8, status="saved",
                                draft={"note": person}))
    db.session.flush()
    return {("Upload", tenant_key): upload.id, ("Job", tenant_key): job.id,
            ("Employee", tenant_key): employee.id, ("User", tenant_key): colleague}


@pytest.fixture
def seeded(app, people):
    with app.app_context():
        ids = {**_seed_tenant(people, "A", A_MARKERS), **_seed_tenant(people, "B", B_MARKERS)}
        # The same person signs in from both tenants' screens: audit entries on each side.
        db.session.add(AuditLog(action="login", user_id=people.hr_b, tenant_id=people.tenant_b,
                                target="hr@bharat.test", ip="10.0.0.2"))
        db.session.add(AuditLog(action="login", user_id=people.hr_a, tenant_id=people.tenant_a,
                                target="hr@acme.test", ip="10.0.0.1"))
        db.session.commit()
    return Seeded(ids)


# --- Walking -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Visit:
    endpoint: str
    method: str
    url: str
    variant: str  # "own", "other", "guessed" or "plain" (no tenant-owned parameter)


def visits(app, seeded: Seeded, own: str) -> list[Visit]:
    other = "B" if own == "A" else "A"
    result = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        owned = [name for name in rule.arguments if isinstance(PARAMS.get(name), Owned)]
        variants = ("own", "other", "guessed") if owned else ("plain",)
        for variant in variants:
            values = {}
            for name in rule.arguments:
                spec = PARAMS.get(name)
                if isinstance(spec, Owned):
                    values[name] = _owned_value(seeded, spec, variant, own, other, rule, name)
                else:
                    values[name] = spec if spec is not None else _guess(rule, name)
            with app.test_request_context():
                url = app.url_for(rule.endpoint, **values)
            for method in sorted(set(METHODS) & rule.methods):
                result.append(Visit(rule.endpoint, method, url, variant))
    return result


def _owned_value(seeded, spec, variant, own, other, rule, name):
    if variant == "guessed":
        return _guess(rule, name)
    return seeded.owned(spec.model, own if variant == "own" else other)


def _guess(rule, name):
    converter = type(rule._converters[name]).__name__
    return GUESSED_INT if converter == "IntegerConverter" else GUESSED_STR


def request(client, visit: Visit):
    kwargs = {"headers": {"Accept": "text/html"}}
    if visit.method in ("PUT", "PATCH"):
        kwargs.update(json={}, headers={"Accept": "application/json"})
    return client.open(visit.url, method=visit.method, **kwargs)


def body_of(response) -> str:
    return response.get_data(as_text=True) if response.mimetype.startswith(("text", "application/json")) else ""


def walk(client, plan: list[Visit], check) -> list[str]:
    """Every visit in order; `check` returns a problem (or None) for each response."""
    problems = []
    for visit in plan:
        if visit.endpoint == "auth.logout" and client.get_cookie("session"):
            continue  # signing out would end the walk of the signed-in person
        response = request(client, visit)
        if response.status_code >= 500:
            problems.append(f"{visit}: {response.status_code}")
            continue
        problem = check(visit, response)
        if problem:
            problems.append(f"{visit}: {problem}")
    return problems


# --- What must not change --------------------------------------------------------------------


def snapshot(tenant_id: int | None) -> dict:
    """A fingerprint of a tenant's data (everyone's when tenant_id is None)."""
    def rows(model, *columns, where=sa.true()):
        stmt = sa.select(*columns).where(where).order_by(*columns)
        if tenant_id is not None and hasattr(model, "tenant_id"):
            stmt = stmt.where(model.tenant_id == tenant_id)
        return [list(map(str, row)) for row in db.session.execute(stmt)]

    state = {
        "uploads": rows(Upload, Upload.id, Upload.status, Upload.confirmed_at),
        # Reading a dashboard may re-sync a period's lost chart data (DESIGN.md): not a change.
        "jobs": rows(Job, Job.id, Job.state, Job.attempts,
                     where=Job.task_name != "sync_chart_data_batch"),
        "salary": rows(SalaryRow, SalaryRow.id, SalaryRow.net, SalaryRow.year, SalaryRow.month),
        "users": rows(User, User.id, User.active, User.role, User.password_hash, User.email),
        "employees": rows(Employee, Employee.id, Employee.name, Employee.monthly_salary,
                          Employee.active),
        "payroll": rows(PayrollMonth, PayrollMonth.id, PayrollMonth.status, PayrollMonth.draft),
        "tenant": rows(Tenant, Tenant.id, Tenant.name, Tenant.days_basis),
    }
    if tenant_id is None:
        state["paused"] = [p.task_name for p in db.session.scalars(sa.select(PausedTask))]
    else:
        state["tenant"] = [r for r in state["tenant"] if r[0] == str(tenant_id)]
    return json.loads(json.dumps(state, default=str))


def changes(before: dict, after: dict) -> dict:
    """Each table whose rows differ, with the rows only before and only after."""
    diff = {}
    for key in before:
        gone = [r for r in before[key] if r not in after[key]]
        new = [r for r in after[key] if r not in before[key]]
        if gone or new:
            diff[key] = {"before": gone, "after": new}
    return diff


def _redirects_to_login(response) -> bool:
    return response.status_code in (302, 303) and "/login" in response.headers.get("Location", "")


# --- The walks -------------------------------------------------------------------------------


def test_every_url_parameter_is_known(app):
    unknown = {(rule.rule, name) for rule in app.url_map.iter_rules()
               for name in rule.arguments if name not in PARAMS}
    assert not unknown, f"add these URL parameters to PARAMS in {__file__}: {sorted(unknown)}"


def test_anonymous_visitors_are_sent_to_sign_in_everywhere(app, seeded):
    def check(visit, response):
        if visit.endpoint in PUBLIC:
            return None
        if response.status_code == 401 or _redirects_to_login(response):
            return None
        return f"{response.status_code} for an anonymous visitor"

    assert walk(app.test_client(), visits(app, seeded, "A"), check) == []


@pytest.mark.parametrize("email,own", [
    ("hr@acme.test", "A"), ("admin@acme.test", "A"), ("hr@bharat.test", "B")])
def test_tenant_users_never_reach_another_tenants_objects(app, seeded, people, email, own):
    client = login(app.test_client(), email)
    plan = visits(app, seeded, own)
    other_tenant = people.tenant_b if own == "A" else people.tenant_a
    markers = B_MARKERS if own == "A" else A_MARKERS
    # What the role may not use at all: the same route with their own object says 403.
    own_status = {}

    def check(visit, response):
        key = (visit.endpoint, visit.method)
        if visit.variant == "own":
            own_status[key] = response.status_code
        if visit.variant == "other" and response.status_code != 404:
            if not (response.status_code == 403 and own_status.get(key) == 403):
                return f"{response.status_code} for another tenant's object (own: {own_status.get(key)})"
        leaked = [m for m in markers if m in body_of(response)]
        return f"shows the other tenant's {leaked}" if leaked else None

    with app.app_context():
        before = snapshot(other_tenant)
    problems = walk(client, plan, check)
    with app.app_context():
        db.session.expire_all()
        assert changes(before, snapshot(other_tenant)) == {}, "the other tenant's data changed"
    assert problems == []


def test_tenant_users_cannot_pick_another_tenant_with_query_parameters(app, seeded, people):
    client = login(app.test_client(), "admin@acme.test")
    query = (f"tenant={people.tenant_b}&tenant_id={people.tenant_b}"
             f"&upload_id={seeded.owned(Upload, 'B')}&job_id={seeded.owned(Job, 'B')}")
    plan = [dataclasses.replace(v, url=f"{v.url}{'&' if '?' in v.url else '?'}{query}")
            for v in visits(app, seeded, "A") if v.method == "GET" and v.variant != "other"]

    def check(visit, response):
        leaked = [m for m in B_MARKERS if m in body_of(response)]
        return f"shows tenant B's {leaked}" if leaked else None

    assert walk(client, plan, check) == []


def test_read_only_operator_reads_everything_and_changes_nothing(app, seeded):
    client = login(app.test_client(), "viewer@paydash.test")

    def check(visit, response):
        # Their own account (sessions, password, two-step sign-in) is theirs to change.
        own_account = visit.endpoint.startswith("account.")
        if (visit.method != "GET" and visit.endpoint not in PUBLIC and not own_account
                and response.status_code < 400):
            return f"{response.status_code}: a read-only operator's {visit.method} was accepted"
        return None

    with app.app_context():
        before = snapshot(None)
    problems = walk(client, visits(app, seeded, "A"), check)
    with app.app_context():
        db.session.expire_all()
        assert changes(before, snapshot(None)) == {}, "a read-only operator changed data"
    assert problems == []


def test_operator_walk_has_no_server_errors(app, seeded):
    client = login(app.test_client(), "ops@paydash.test")
    assert walk(client, visits(app, seeded, "A"), lambda visit, response: None) == []


def test_hr_gets_403_on_admin_only_routes(app, seeded):
    client = login(app.test_client(), "hr@acme.test")
    admin_only = [v for v in visits(app, seeded, "A")
                  if v.endpoint.startswith("admin.") and v.variant in ("own", "plain")]
    assert admin_only
    statuses = {(v.endpoint, v.method): request(client, v).status_code for v in admin_only}
    assert {k: s for k, s in statuses.items() if s != 403} == {}


def test_walk_covers_a_route_added_later(app, seeded):
    """The walk is built from the URL map: a rule registered after start-up is visited."""
    app.add_url_rule("/late/<int:upload_id>", "late_route", lambda upload_id: "late")
    plan = visits(app, seeded, "A")
    assert {v.variant for v in plan if v.endpoint == "late_route"} == {"own", "other", "guessed"}


def test_seeded_markers_are_visible_to_their_own_tenant(app, seeded):
    """Guards the leak check itself: tenant B's markers do show on tenant B's own pages."""
    client = login(app.test_client(), "admin@bharat.test")
    pages = "".join(body_of(request(client, v)) for v in visits(app, seeded, "B")
                    if v.method == "GET" and v.variant in ("own", "plain"))
    assert sum(marker in pages for marker in B_MARKERS) >= 3
