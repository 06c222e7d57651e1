"""The Prometheus rules and the Grafana dashboard in deploy/: valid, unit-tested with promtool,
and reading only figures that /metrics really exposes."""
import datetime as dt
import json
import re
import shutil
import subprocess

from conftest import ROOT
from conftest import missing_service

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.models import Upload

RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "paydash.json"


def promtool(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("promtool") is None:
        missing_service("promtool (Debian package `prometheus`; .ci/run installs it)")
    return subprocess.run(["promtool", *args], cwd=RULES.parent, capture_output=True, text=True, timeout=120)


def test_promtool_check_rules_accepts_the_alerting_rules():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout + result.stderr


def test_promtool_test_rules_passes_the_rules_unit_tests():
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_every_alerting_rule_has_a_unit_test():
    rules = set(re.findall(r"^\s+- alert: (\w+)", RULES.read_text(), re.M))
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert rules and rules == tested


def exposed_metric_names(app) -> set[str]:
    """Scrape /metrics the way Prometheus does (bearer token) with every figure present."""
    now = utcnow()
    with app.app_context():
        for name in ("recover_lost_jobs", "cleanup_old_chart_data"):
            db.session.add(Job(id=f"run-{name}", task_name=name, queue="maintenance", state="SUCCESS",
                               created_at=now, finished_at=now, runtime_seconds=0.2))
        db.session.commit()
    app.config["METRICS_TOKEN"] = "scrape-token"
    response = app.test_client().get("/metrics", headers={"Authorization": "Bearer scrape-token"})
    assert response.status_code == 200
    return set(re.findall(r"^(\w+)", response.get_data(as_text=True), re.M))


def used_metric_names(text: str) -> set[str]:
    return set(re.findall(r"\bpaydash_\w+", text))


def test_the_rules_read_only_figures_that_metrics_exposes(app):
    used = used_metric_names(RULES.read_text())
    assert {"paydash_jobs_failed_recent", "paydash_broker_up"} <= used
    assert used <= exposed_metric_names(app)


def test_the_grafana_dashboard_reads_only_figures_that_metrics_exposes(app):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = used_metric_names("\n".join(exprs))
    assert len(exprs) >= 12
    assert used <= exposed_metric_names(app)


def test_metrics_count_recent_failures_lost_jobs_and_failed_imports(app, people):
    now = utcnow()
    with app.app_context():
        db.session.add_all([
            Job(id="f1", task_name="noop", queue="maintenance", state="FAILURE", finished_at=now),
            Job(id="f-old", task_name="noop", queue="maintenance", state="FAILURE",
                finished_at=now - dt.timedelta(hours=3)),
            Job(id="lost", task_name="noop", queue="maintenance", state="STARTED",
                started_at=now - dt.timedelta(minutes=9), heartbeat_at=now - dt.timedelta(minutes=5)),
            Upload(tenant_id=people.tenant_a, filename="a.xlsx", sha256="0" * 64, year=2026, month=1,
                   status="failed", created_at=now)])
        db.session.commit()
    app.config["METRICS_TOKEN"] = "t"
    text = app.test_client().get("/metrics", headers={"Authorization": "Bearer t"}).get_data(as_text=True)
    assert "paydash_jobs_failed_recent 1.0" in text
    assert "paydash_jobs_worker_lost 1.0" in text
    assert "paydash_import_failures_recent 1.0" in text
