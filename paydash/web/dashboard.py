"""The payroll dashboard page and its JSON: KPIs and charts read from aggregated chart data."""
import logging

import sqlalchemy as sa
from flask import Blueprint
from flask import current_app
from flask import g
from flask import jsonify
from flask import render_template
from flask import request

from paydash.charts.queries import PeriodError
from paydash.charts.queries import cached_answer
from paydash.extensions import db
from paydash.models import Tenant
from paydash.web.access import is_operator
from paydash.web.access import login_required

logger = logging.getLogger(__name__)

bp = Blueprint("dashboard", __name__)


def _chosen_tenant_id() -> int | None:
    """The tenant whose numbers this request shows.

    HR and tenant admins always see their own tenant, whatever the query string says;
    platform operators pick one with `?tenant=<id>` (the first tenant by name by default).
    One primary-key or index lookup: the JSON endpoint is on the dashboard's hot path.
    """
    if not is_operator():
        return g.user.tenant_id
    wanted = request.args.get("tenant", type=int)
    if wanted is not None and db.session.get(Tenant, wanted) is not None:
        return wanted
    return db.session.scalar(sa.select(Tenant.id).order_by(Tenant.name).limit(1))


def _answer_for_request(tenant_id: int):
    """Parse the period and department from the query string and answer them (cached)."""
    args = request.args
    return cached_answer(tenant_id, args.get("period"), args.get("from"), args.get("to"),
                         (args.get("department") or "").strip(), requested_by_id=g.user.id)


def _for_viewer(summary: dict) -> dict:
    """Operators see a tenant's totals and counts, never a named person's pay (issue 16)."""
    if not is_operator():
        return summary
    return {**summary, "top_earners": [], "top_earners_hidden": True}


@bp.get("/")
@login_required
def index():
    tenant_id = _chosen_tenant_id()
    # Only the page offers operators a tenant picker.
    tenants = (db.session.scalars(sa.select(Tenant).order_by(Tenant.name)).all()
               if is_operator() else [])
    summary, error = None, None
    if tenant_id is not None:
        try:
            summary = _answer_for_request(tenant_id).summary
        except PeriodError as exc:
            error = str(exc)
            summary = cached_answer(tenant_id, None, None, None, requested_by_id=g.user.id).summary
        summary = _for_viewer(summary)
    return render_template("dashboard/index.html", summary=summary, error=error,
                           tenants=tenants, tenant_id=tenant_id)


@bp.get("/api/dashboard/summary")
@login_required
def summary_api():
    """KPIs with deltas and every chart's series; see the README's API section."""
    tenant_id = _chosen_tenant_id()
    if tenant_id is None:
        return jsonify(error="No tenant", detail="There is no business to show yet.", status=404), 404
    try:
        # The cached answer carries its JSON text, so a repeated request serialises nothing.
        answer = _answer_for_request(tenant_id)
        if is_operator():
            return jsonify(_for_viewer(answer.summary))
        return current_app.response_class(answer.body, mimetype="application/json")
    except PeriodError as exc:
        return jsonify(error="Bad period", detail=str(exc), status=400), 400
