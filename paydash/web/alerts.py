"""The alerts settings page: who receives what, by email or webhook, and muting for a while.

Tenant admins set their own tenant's alerts; operators set the platform's. Read-only
operators may look but not change.
"""
import sqlalchemy as sa
from flask import Blueprint
from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from paydash.alerts import conditions
from paydash.alerts import delivery
from paydash.alerts import engine
from paydash.alerts import messages
from paydash.alerts import recipients
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.models import AlertDelivery
from paydash.models import AlertState
from paydash.models import Role
from paydash.web.access import OPERATOR_ROLES
from paydash.web.access import roles_required

bp = Blueprint("alerts", __name__, url_prefix="/alerts")

VIEW_ROLES = (*OPERATOR_ROLES, Role.TENANT_ADMIN.value)
EDIT_ROLES = (Role.OPERATOR.value, Role.TENANT_ADMIN.value)


def scope() -> str:
    if g.user.role in OPERATOR_ROLES:
        return conditions.PLATFORM
    return conditions.tenant_scope(g.user.tenant_id)


def page_data(scope_name: str) -> dict:
    now = utcnow()
    setting = recipients.setting_of(scope_name)
    channels = recipients.channels_of(scope_name, current_app.config)
    disabled = set(setting.disabled or []) if setting is not None else set()
    rows = [{"name": name, "title": conditions.CONDITIONS[name].title, "wanted": name not in disabled,
             "muted_until": recipients.muted_until(setting, name, now)}
            for name in recipients.conditions_for(scope_name)]
    open_states = list(db.session.scalars(sa.select(AlertState).where(
        AlertState.scope == scope_name, AlertState.status == "open").order_by(AlertState.opened_at)))
    recent = list(db.session.scalars(sa.select(AlertDelivery).where(AlertDelivery.scope == scope_name)
                                     .order_by(AlertDelivery.id.desc()).limit(20)))
    return {"rows": rows, "channels": channels, "setting": setting, "open_states": open_states,
            "recent": recent, "mute_choices": recipients.MUTE_CHOICES,
            "smtp_ready": bool(current_app.config.get("SMTP_HOST")),
            "may_edit": g.user.role in EDIT_ROLES, "platform": scope_name == conditions.PLATFORM}


def open_problems(tenant_id: int | None) -> list[dict]:
    """The job overview's "open problems first" box (issue 19), worst first."""
    return engine.open_problems(tenant_id, current_app.config)


@bp.get("/settings")
@roles_required(*VIEW_ROLES)
def settings():
    return render_template("alerts/settings.html", form=None, **page_data(scope()))


@bp.post("/settings")
@roles_required(*EDIT_ROLES)
def save_settings():
    form = {"emails": request.form.get("emails", ""), "webhook_url": request.form.get("webhook_url", "")}
    try:
        recipients.parse_emails(form["emails"])  # Addresses first: they are the likelier slip.
        if form["webhook_url"].strip() and scope() != conditions.PLATFORM:
            _check_webhook(form["webhook_url"].strip())
        recipients.save(scope(), emails=form["emails"], webhook_url=form["webhook_url"],
                        wanted_conditions=request.form.getlist("wanted"))
    except recipients.BadSetting as exc:
        db.session.rollback()
        flash(str(exc), "error")
        # What was typed stays in the form, so nothing is lost.
        return render_template("alerts/settings.html", form=form, **page_data(scope())), 400
    flash("Alert settings saved.", "success")
    return redirect(url_for("alerts.settings"))


def _check_webhook(url: str) -> None:
    try:
        delivery.check_webhook_host(current_app.config, url)
    except ValueError as exc:
        raise recipients.BadSetting(f"This webhook cannot be used: {exc}.") from None


@bp.post("/test")
@roles_required(*EDIT_ROLES)
def send_test():
    """Queue a test message to the saved addresses and webhook; the worker sends it."""
    channels = recipients.channels_of(scope(), current_app.config)
    if not channels:
        flash("There is nowhere to send a test message: add an email address or a webhook first.", "error")
        return redirect(url_for("alerts.settings"))
    subject = f"[Paydash] Test message - {messages.scope_name(scope())}"
    body = ("This is a test from Paydash's alert settings. Problems will reach you like this.\n"
            + messages.url(current_app.config, url_for("alerts.settings")))
    delivery.record(scope(), "test", channels, subject, body, quiet=False, alert_id=None, now=utcnow())
    db.session.commit()
    flash("A test message is on its way: the worker sends it within a minute. Its outcome shows "
          "under Recent messages.", "success")
    return redirect(url_for("alerts.settings"))


@bp.post("/mute")
@roles_required(*EDIT_ROLES)
def mute():
    condition = request.form.get("condition", "")
    try:
        hours = int(request.form.get("hours", "0"))
        until = recipients.mute(scope(), condition, hours, utcnow())
    except (ValueError, recipients.BadSetting):
        db.session.rollback()
        flash("Choose an alert and how long to mute it.", "error")
        return redirect(url_for("alerts.settings"))
    title = conditions.CONDITIONS[condition].title
    flash(f"Muted “{title}” until {until:%d %b %Y %H:%M} UTC. It still shows in the daily digest.",
          "success")
    return redirect(url_for("alerts.settings"))


@bp.post("/unmute")
@roles_required(*EDIT_ROLES)
def unmute():
    condition = request.form.get("condition", "")
    recipients.unmute(scope(), condition)
    if condition in conditions.CONDITIONS:
        flash(f"“{conditions.CONDITIONS[condition].title}” is no longer muted.", "success")
    return redirect(url_for("alerts.settings"))
