"""The signed-in user's own account: active sessions, password, two-step sign-in."""
from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for

from paydash import accounts
from paydash import audit
from paydash import sessions
from paydash import twostep
from paydash.extensions import db
from paydash.models import Role
from paydash.models import Tenant
from paydash.models import User
from paydash.web.access import client_ip
from paydash.web.access import login_required
from paydash.web.access import roles_required
from paydash.web.access import wants_json

bp = Blueprint("account", __name__, url_prefix="/account")

# What a user who must enrol in two-step sign-in may still open before they have.
_OPEN_BEFORE_ENROLMENT = {"account.two_step", "auth.logout", "static", "metrics.healthz",
                          "metrics.metrics", "metrics.ping"}


def hold_until_enrolled():
    """Before each request: a user who must use two-step sign-in and has not enrolled yet
    is sent to enrol (tenant admins and operators always; HR when their tenant requires it)."""
    user = g.get("user")
    if user is None or user.two_step_on or not current_app.config.get("TWO_STEP_ENFORCED", True):
        return None
    if user.role not in twostep.REQUIRED_ROLES and not user.tenant_requires_two_step:
        return None
    if request.endpoint in _OPEN_BEFORE_ENROLMENT:
        return None
    if wants_json():
        abort(403)
    flash("Your account needs two-step sign-in. Set it up to continue.", "error")
    return redirect(url_for("account.two_step"))


@bp.get("")
@login_required
def index():
    mine = sessions.of_user(g.user.id)
    current = sessions.session_id(session.get("sid") or "")
    tenant = db.session.get(Tenant, g.user.tenant_id) if g.user.tenant_id else None
    return render_template("account/index.html", sessions=mine, current=current, tenant=tenant,
                           is_tenant_admin=g.user.role == Role.TENANT_ADMIN.value)


@bp.post("/sessions/end-others")
@login_required
def end_other_sessions():
    ended = sessions.end_all(g.user.id, keep_token=session.get("sid"))
    audit.record("sessions_ended", user_id=g.user.id, tenant_id=g.user.tenant_id,
                 target=g.user.email, ip=client_ip(), detail={"ended": ended})
    db.session.commit()
    flash(f"Signed out of {ended} other session{'s' if ended != 1 else ''}.", "success")
    return redirect(url_for("account.index")), 303


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    error = None
    if request.method == "POST":
        user = db.session.get(User, g.user.id)
        if accounts.authenticate(user.email, request.form.get("current") or "") is None:
            error = "Your current password is not right."
        elif (request.form.get("password") or "") != (request.form.get("confirm") or ""):
            error = "The two new passwords are not the same."
        else:
            try:
                accounts.set_password(user, request.form.get("password") or "",
                                      keep_session=session.get("sid"))
            except accounts.AccountError as exc:
                error = str(exc)
        if error is None:
            audit.record("password_changed", user_id=user.id, tenant_id=user.tenant_id,
                         target=user.email, ip=client_ip())
            db.session.commit()
            flash("Password changed. Your other sessions have been signed out.", "success")
            return redirect(url_for("account.index")), 303
        db.session.rollback()
    return render_template("account/password.html", error=error), 400 if error else 200


@bp.route("/two-step", methods=["GET", "POST"])
@login_required
def two_step():
    """Enrol: scan the QR code, type a code to prove it works, keep the recovery codes."""
    user = db.session.get(User, g.user.id)
    if user.totp_secret:
        return render_template("account/two_step.html", enabled=True, user=user)
    secret = session.get("totp_pending")
    error = None
    if request.method == "POST" and secret:
        codes = twostep.enable(user, secret, request.form.get("code") or "", ip=client_ip())
        if codes is not None:
            db.session.commit()
            session.pop("totp_pending", None)
            response = make_response(render_template("account/recovery_codes.html", codes=codes))
            response.headers["Cache-Control"] = "no-store"
            return response
        error = "That code did not match. Type the six digits the app shows now."
    if not secret:
        secret = session["totp_pending"] = twostep.new_secret()
    uri = twostep.provisioning_uri(secret, user.email)
    response = make_response(render_template(
        "account/two_step.html", enabled=False, user=user, secret=secret,
        qr=twostep.qr_svg(uri), error=error), 400 if error else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/two-step/off")
@login_required
def two_step_off():
    user = db.session.get(User, g.user.id)
    if twostep.must_use_two_step(user) and current_app.config.get("TWO_STEP_ENFORCED", True):
        flash("Your account must use two-step sign-in, so it cannot be turned off.", "error")
        return redirect(url_for("account.two_step")), 303
    if accounts.authenticate(user.email, request.form.get("current") or "") is None:
        flash("Your current password is not right.", "error")
        return redirect(url_for("account.two_step")), 303
    twostep.disable(user, actor_id=user.id, ip=client_ip())
    db.session.commit()
    flash("Two-step sign-in is off.", "success")
    return redirect(url_for("account.index")), 303


@bp.post("/tenant-two-step")
@roles_required(Role.TENANT_ADMIN.value)
def tenant_two_step():
    """A tenant admin requires (or stops requiring) two-step sign-in of every user."""
    tenant = db.session.get(Tenant, g.user.tenant_id)
    tenant.require_two_step = request.form.get("require") == "1"
    audit.record("tenant_two_step_required" if tenant.require_two_step
                 else "tenant_two_step_optional", user_id=g.user.id, tenant_id=tenant.id,
                 target=tenant.name, ip=client_ip())
    db.session.commit()
    flash("Two-step sign-in is now required for everyone in your business."
          if tenant.require_two_step else "Two-step sign-in is now optional for HR.", "success")
    return redirect(url_for("account.index")), 303
