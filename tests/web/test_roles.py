"""Who sees what (issue 16, item 7): every route walked as each of the four roles, checked
against README's "Who sees what" table, and operators never shown a named person's pay."""
import fnmatch
import re

import pytest
from conftest import ROOT
from conftest import login
from test_route_walk import A_MARKERS
from test_route_walk import B_MARKERS
from test_route_walk import body_of
from test_route_walk import request
from test_route_walk import seeded  # noqa: F401  (the fixture)
from test_route_walk import visits

ROLES = {"hr": "hr@acme.test", "tenant admin": "admin@acme.test", "operator": "ops@paydash.test",
         "read-only operator": "viewer@paydash.test"}
# The seeded employees, who appear with their pay (salary rows, top earners, employees).
PEOPLE = (A_MARKERS[1], B_MARKERS[1])


def role_table() -> dict[str, dict[str, str]]:
    """README's table: endpoint pattern -> {role: yes | read | no | totals}."""
    section = (ROOT / "README.md").read_text().split("### Who sees what", 1)[1].split("\n### ", 1)[0]
    table = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or "`" not in cells[0]:
            continue
        for pattern in re.findall(r"`([^`]+)`", cells[0]):
            table[pattern] = dict(zip(("hr", "tenant admin", "operator", "read-only operator"),
                                      cells[1:5], strict=True))
    return table


def rule_for(table: dict, endpoint: str) -> dict | None:
    """The most specific row: an exact name, else the longest matching pattern."""
    if endpoint in table:
        return table[endpoint]
    matches = [p for p in table if fnmatch.fnmatchcase(endpoint, p)]
    return table[max(matches, key=len)] if matches else None


def allowed(cell: str, method: str) -> bool:
    return cell in ("yes", "totals") or (cell == "read" and method in ("GET", "HEAD"))


@pytest.fixture
def walked(app, seeded):  # noqa: F811
    """Status and body of every route (own tenant's ids) for each role: {role: {(endpoint, method): ...}}."""
    seen = {}
    for role, email in ROLES.items():
        client = login(app.test_client(), email)
        answers = {}
        for visit in visits(app, seeded, "A"):
            if visit.variant not in ("own", "plain") or visit.endpoint == "auth.logout":
                continue
            response = request(client, visit)
            answers[(visit.endpoint, visit.method)] = (response.status_code, body_of(response))
        seen[role] = answers
    return seen


def test_every_route_answers_each_role_as_the_readme_table_says(walked):
    table = role_table()
    problems = []
    for role, answers in walked.items():
        for (endpoint, method), (status, _body) in sorted(answers.items()):
            rule = rule_for(table, endpoint)
            if rule is None:
                problems.append(f"{endpoint}: add it to README's 'Who sees what' table")
                continue
            if status >= 500:
                problems.append(f"{role} {method} {endpoint}: {status}")
            elif allowed(rule[role], method) and (
                    status == 403 or (status == 401 and not endpoint.startswith("auth."))):
                problems.append(f"{role} {method} {endpoint}: {status}, the table says {rule[role]}")
            elif not allowed(rule[role], method) and status != 403:
                problems.append(f"{role} {method} {endpoint}: {status}, the table says {rule[role]}")
    assert problems == []


def test_operators_never_see_a_named_persons_pay(walked):
    for role in ("operator", "read-only operator"):
        shown = {key: [p for p in PEOPLE if p in body] for key, (_status, body) in walked[role].items()}
        assert {key: found for key, found in shown.items() if found} == {}, role


def test_tenant_users_do_see_their_people_so_the_check_can_fail(walked):
    for role in ("hr", "tenant admin"):
        pages = "".join(body for _status, body in walked[role].values())
        assert A_MARKERS[1] in pages


def test_operators_see_a_tenants_totals_and_counts_without_top_earners(app, seeded, people):  # noqa: F811
    client = login(app.test_client(), "viewer@paydash.test")
    data = client.get(f"/api/dashboard/summary?from=2024-09&to=2024-09&tenant={people.tenant_a}").get_json()
    assert data["top_earners"] == [] and data["top_earners_hidden"] is True
    assert any(card["value"] for card in data["kpis"])
    hr = login(app.test_client(), "hr@acme.test")
    assert hr.get("/api/dashboard/summary?from=2024-09&to=2024-09").get_json()["top_earners"]


def test_operators_read_the_audit_log_without_individuals_pay(app, people):
    from paydash.extensions import db  # noqa: PLC0415
    from paydash.models import AuditLog  # noqa: PLC0415
    with app.app_context():
        db.session.add(AuditLog(action="payroll.paid", user_id=people.admin_a, tenant_id=people.tenant_a,
                                target="2024-10", detail={"advances_recovered": {"17": "4321.50"}}))
        db.session.commit()
    for email in ("ops@paydash.test", "viewer@paydash.test"):
        client = login(app.test_client(), email)
        for url in ("/admin/audit", "/admin/audit/export.csv"):
            body = client.get(url).get_data(as_text=True)
            assert "payroll.paid" in body or "2024-10" in body
            assert "4321.50" not in body, (email, url)
    admin = login(app.test_client(), "admin@acme.test")
    assert "4321.50" in admin.get("/admin/audit").get_data(as_text=True)
