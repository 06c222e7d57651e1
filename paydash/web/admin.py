"""Admin pages: tenant admins manage their tenant's users; admins read and export the audit log."""
import datetime as dt
import logging

from flask import Blueprint
from flask import abort
from flask import flash
from flask import g
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from paydash import accounts
from paydash.models import Role
from paydash.models import User
from paydash.services import administration
from paydash.sheets.exports import XLSX_MIMETYPE
from paydash.web import times
from paydash.web.access import OPERATOR_ROLES
from paydash.web.access import client_ip
from paydash.web.access import get_owned_or_404
from paydash.web.access import is_operator
from paydash.web.access import roles_required
from paydash.web.links import attachment

logger = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_READERS = (Role.TENANT_ADMIN.value, *OPERATOR_ROLES)
TENANT_ADMIN = Role.TENANT_ADMIN.value


@bp.get("/")
@roles_required(*AUDIT_READERS)
def index():
    if g.user.role == TENANT_ADMIN:
        return redirect(url_for("admin.users"))
    return redirect(url_for("admin.audit_log"))


@bp.get("/users")
@roles_required(TENANT_ADMIN)
def users():
    return render_template("admin/users.html", users=administration.tenant_users(g.user.tenant_id))


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(TENANT_ADMIN)
def new_user():
    form = {"email": "", "name": "", "role": Role.HR.value}
    if request.method == "POST":
        form = {key: (request.form.get(key) or "").strip() for key in form}
        try:
            user, token = administration.create_tenant_user(
                g.user, email=form["email"], name=form["name"], role=form["role"], ip=client_ip())
        except accounts.AccountError as exc:
            return render_template("admin/user_form.html", form=form, error=str(exc)), 400
        # Shown once on this response, never put in the (signed, readable) session cookie.
        return _reset_link_page(user, token, created=True)
    return render_template("admin/user_form.html", form=form, error=None)


@bp.post("/users/<int:user_id>/deactivate")
@roles_required(TENANT_ADMIN)
def deactivate_user(user_id: int):
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/reactivate")
@roles_required(TENANT_ADMIN)
def reactivate_user(user_id: int):
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool):
    user = get_owned_or_404(User, user_id)
    try:
        administration.set_active(g.user, user, active, ip=client_ip())
    except accounts.AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users")), 303
    flash(f"{user.email} is {'active again' if active else 'deactivated'}.", "success")
    return redirect(url_for("admin.users")), 303


@bp.post("/users/<int:user_id>/reset-password")
@roles_required(TENANT_ADMIN)
def reset_password(user_id: int):
    user = get_owned_or_404(User, user_id)
    token = administration.reset_password(g.user, user, ip=client_ip())
    return _reset_link_page(user, token, created=False)


@bp.route("/settings", methods=["GET", "POST"])
@roles_required(TENANT_ADMIN)
def settings():
    """The organisation's settings: the time zone every page shows times in."""
    tenant = g.user.tenant
    if request.method == "POST":
        try:
            administration.set_timezone(g.user, request.form.get("timezone", ""), ip=client_ip())
        except accounts.AccountError as exc:
            return render_template("admin/settings.html", tenant=tenant, zones=times.zone_names(),
                                   error=str(exc)), 400
        flash("Saved. Every page now shows times in this time zone.", "success")
        return redirect(url_for("admin.settings")), 303
    return render_template("admin/settings.html", tenant=tenant, zones=times.zone_names(), error=None)


def _reset_link_page(user: User, token: str, *, created: bool):
    link = url_for("auth.reset", token=token, _external=True)
    response = make_response(render_template("admin/password.html", user=user, link=link,
                                             hours=accounts.RESET_LINK_HOURS, created=created))
    # A page holding a one-time link must not stay in the browser's cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/audit")
@roles_required(*AUDIT_READERS)
def audit_log():
    query = _audit_query()
    page = request.args.get("page", 1, type=int)
    entries, has_next = administration.audit_page(query, page)
    return render_template(
        "admin/audit.html", entries=entries, has_next=has_next, page=max(page, 1), query=query,
        actions=administration.audit_actions(query.tenant_id), labels=administration.ACTION_LABELS,
        detail_shown=lambda detail: administration.detail_shown(detail, operator=is_operator()),
        tenants=administration.tenant_names() if is_operator() else {},
        filters={k: v for k, v in request.args.items() if k != "page"})


@bp.get("/audit/export.<fmt>")
@roles_required(*AUDIT_READERS)
def audit_export(fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    rows = administration.export_rows(_audit_query(), operator=is_operator())
    stamp = dt.date.today().isoformat()
    if fmt == "csv":
        body, mimetype = administration.to_csv(rows), "text/csv; charset=utf-8"
    else:
        body, mimetype = administration.to_xlsx(rows), XLSX_MIMETYPE
    return attachment(body, f"paydash-audit-{stamp}.{fmt}", mimetype)


def _audit_query() -> administration.AuditQuery:
    """Filters from the query string; a tenant admin is always held to their own tenant."""
    args = request.args
    tenant_id = g.user.tenant_id
    if is_operator():
        tenant_id = args.get("tenant", type=int)
    return administration.AuditQuery(
        tenant_id=tenant_id, action=(args.get("action") or "").strip()[:64],
        who=(args.get("who") or "").strip()[:200],
        date_from=_date(args.get("from")), date_to=_date(args.get("to")), zone=times.display_zone())


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None
