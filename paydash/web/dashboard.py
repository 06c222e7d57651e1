"""The payroll dashboard page and its JSON: KPIs and charts read from aggregated chart data."""
import logging

import sqlalchemy as sa
from flask import Blueprint
from flask import g
from flask import jsonify
from flask import render_template
from flask import request

from paydash.chart_queries import PeriodError
from paydash.chart_queries import dashboard_summary
from paydash.chart_queries import resolve_period
from paydash.extensions import db
from paydash.models import Tenant
from paydash.web.access import is_operator
from paydash.web.access import login_required

logger = logging.getLogger(__name__)

bp = Blueprint("dashboard", __name__)


def _tenant_choice() -> tuple[int | None, list[Tenant]]:
    """The tenant whose numbers this request shows, and the tenants an operator may pick from.

    HR and tenant admins always see their own tenant, whatever the query string says;
    platform operators pick one with `?tenant=<id>` (the first tenant by default).
    """
    if not is_operator():
        return g.user.tenant_id, []
    tenants = db.session.scalars(sa.select(Tenant).order_by(Tenant.name)).all()
    wanted = request.args.get("tenant", type=int)
    ids = [t.id for t in tenants]
    if wanted in ids:
        return wanted, tenants
    return (ids[0] if ids else None), tenants


def _summary_for_request(tenant_id: int) -> dict:
    """Parse the period and department from the query string and build the summary."""
    args = request.args
    period = resolve_period(tenant_id, args.get("period"), args.get("from"), args.get("to"))
    department = (args.get("department") or "").strip() or None
    summary = dashboard_summary(tenant_id, period, department, requested_by_id=g.user.id)
    summary["tenant_id"] = tenant_id
    return summary


@bp.get("/")
@login_required
def index():
    tenant_id, tenants = _tenant_choice()
    summary, error = None, None
    if tenant_id is not None:
        try:
            summary = _summary_for_request(tenant_id)
        except PeriodError as exc:
            error = str(exc)
            summary = dashboard_summary(tenant_id, resolve_period(tenant_id, None, None, None),
                                        requested_by_id=g.user.id)
            summary["tenant_id"] = tenant_id
    return render_template("dashboard/index.html", summary=summary, error=error,
                           tenants=tenants, tenant_id=tenant_id)


@bp.get("/api/dashboard/summary")
@login_required
def summary_api():
    """KPIs with deltas and every chart's series; see the README's API section."""
    tenant_id, _ = _tenant_choice()
    if tenant_id is None:
        return jsonify(error="No tenant", detail="There is no business to show yet.", status=404), 404
    try:
        return jsonify(_summary_for_request(tenant_id))
    except PeriodError as exc:
        return jsonify(error="Bad period", detail=str(exc), status=400), 400
