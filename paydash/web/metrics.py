"""Prometheus `/metrics` (read from the ledger on each scrape), `/healthz` and `/api/ping`.

A fresh CollectorRegistry per scrape: every figure is read from the ledger, so each web
process reports the same numbers and nothing lives in process memory between scrapes.
"""
import datetime as dt
import hmac
import logging

import sqlalchemy as sa
from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import g
from flask import jsonify
from flask import request
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.core import HistogramMetricFamily

from paydash.extensions import db
from paydash.ledger import stats
from paydash.ledger.dbclock import utcnow
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.ledger.queue import broker_reachable
from paydash.web.access import is_operator

logger = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)
RUNTIME_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800)


class LedgerCollector:
    """Reads the ledger once per scrape and yields the metric families."""

    def collect(self):
        now = utcnow()
        figures = stats.queue_figures(None, now)
        depth = GaugeMetricFamily("paydash_queue_depth", "Jobs waiting to run, per queue label",
                                  labels=["queue"])
        for queue, count in figures["pending"].items():
            depth.add_metric([queue], count)
        yield depth
        yield GaugeMetricFamily("paydash_scheduled_jobs", "Jobs waiting for a time (retries, delayed)",
                                value=figures["scheduled"])
        yield GaugeMetricFamily("paydash_oldest_pending_age_seconds",
                                "Age of the oldest job waiting to run", value=figures["oldest_pending_seconds"])
        yield self._jobs_by_state()
        yield self._runtime_histogram()
        yield from self._workers(now)
        reachable, _ = broker_reachable(current_app.extensions["huey"])
        yield GaugeMetricFamily("paydash_broker_up", "1 when the broker answers", value=int(reachable))

    def _jobs_by_state(self):
        family = GaugeMetricFamily("paydash_jobs", "Jobs in the ledger, by state", labels=["state"])
        counts = dict(db.session.execute(sa.select(Job.state, sa.func.count()).group_by(Job.state)).all())
        for state in JobState:
            family.add_metric([state.value], counts.get(state.value, 0))
        return family

    def _runtime_histogram(self):
        """Run time of jobs finished in the last 24 hours, per task.

        A window keeps each scrape on the (task, state, finished_at) index instead of
        reading every finished job the ledger keeps (up to 90 days, a million rows).
        """
        family = HistogramMetricFamily("paydash_job_runtime_seconds", "Run time of finished jobs",
                                       labels=["task"])
        columns = [sa.func.count(sa.case((Job.runtime_seconds <= b, 1))) for b in RUNTIME_BUCKETS]
        stmt = (sa.select(Job.task_name, *columns, sa.func.count(), sa.func.sum(Job.runtime_seconds))
                .where(Job.runtime_seconds.is_not(None),
                       Job.state.in_([JobState.SUCCESS.value, JobState.FAILURE.value]),
                       Job.finished_at >= utcnow() - dt.timedelta(hours=24))
                .group_by(Job.task_name))
        for task, *counts in db.session.execute(stmt).all():
            total, runtime_sum = counts[-2], counts[-1]
            buckets = [(str(float(b)), c) for b, c in zip(RUNTIME_BUCKETS, counts[:-2])]
            family.add_metric([task], buckets + [("+Inf", total)], float(runtime_sum or 0))
        return family

    def _workers(self, now):
        lease = float(current_app.config["LEASE_SECONDS"])
        rows = stats.workers_view(now, lease)
        family = GaugeMetricFamily("paydash_workers", "Consumer processes by status", labels=["status"])
        for status in ("alive", "stale", "stopped"):
            family.add_metric([status], sum(1 for w in rows if w["status"] == status))
        yield family
        yield GaugeMetricFamily("paydash_workers_alive", "Consumer processes heart-beating",
                                value=sum(1 for w in rows if w["status"] == "alive"))


def _allowed() -> bool:
    if g.get("user") is not None and is_operator(g.user):
        return True
    token = current_app.config.get("METRICS_TOKEN")
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@bp.get("/metrics")
def metrics():
    """Operators signed in, or `Authorization: Bearer <METRICS_TOKEN>`."""
    if not _allowed():
        abort(401 if g.get("user") is None else 403)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/healthz")
def healthz():
    """200 when the database and the broker answer, else 503 (for load balancers and uptime checks)."""
    checks = {}
    try:
        db.session.execute(sa.text("select 1"))
        checks["database"] = "ok"
    except Exception as exc:  # Any failure means "not healthy" to a load balancer.
        db.session.rollback()
        logger.warning("healthz: database unreachable: %s", exc)
        checks["database"] = "unreachable"
    reachable, detail = broker_reachable(current_app.extensions["huey"])
    checks["broker"] = "ok" if reachable else "unreachable"
    ok = all(v == "ok" for v in checks.values())
    return jsonify(ok=ok, **checks), (200 if ok else 503)


@bp.get("/api/ping")
def ping():
    """`{"ok": true}` with no database or broker: the trivial endpoint load tests compare against."""
    return jsonify(ok=True)
