"""Sign-in (with the one-time code step), sign-out, and the one-time password-reset link."""
from flask import Blueprint
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
from paydash.web.access import client_ip
from paydash.web.access import load_user
from paydash.web.account import hold_until_enrolled
from paydash.web.errors import render_error
from paydash.web.redirects import safe_next
from paydash.web.signin_limits import signin_limits

bp = Blueprint("auth", __name__)
bp.before_app_request(load_user)
bp.before_app_request(hold_until_enrolled)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        return _sign_in()
    if g.user is not None:
        return redirect(url_for("dashboard.index"))
    return render_template("auth/login.html", email="")


def _sign_in():
    email = (request.form.get("email") or "").strip().lower()[:254]
    ip = client_ip()
    wait = signin_limits().attempt(email, ip)
    if wait:
        return too_many_attempts(wait)
    user = accounts.authenticate(email, request.form.get("password") or "")
    if user is None:
        audit.record("login_failed", user_id=None, tenant_id=None, target=email, ip=ip)
        db.session.commit()
        flash("That email and password do not match an account.", "error")
        return render_template("auth/login.html", email=email), 401
    needs_code = twostep.has_two_step(user)
    start_session(user, two_step_done=not needs_code)
    audit.record("login" if not needs_code else "login_password_ok", user_id=user.id,
                 tenant_id=user.tenant_id, target=email, ip=ip)
    db.session.commit()
    target = safe_next(request.args.get("next"))
    if needs_code:
        return redirect(url_for("auth.code", next=target))
    return redirect(target or url_for("dashboard.index"))


def start_session(user, *, two_step_done: bool = True) -> None:
    """Open a server-side session for `user` and put its token in a fresh cookie."""
    session.clear()
    session["sid"] = sessions.open_session(
        user.id, ip=client_ip(), user_agent=request.headers.get("User-Agent"),
        two_step_done=two_step_done)
    session.permanent = True


def too_many_attempts(wait: int):
    minutes = max(1, round(wait / 60))
    response = make_response(render_error(
        429, f"There have been too many sign-in attempts for this account or from this network. "
             f"Please wait {minutes} minute{'s' if minutes != 1 else ''} and try again. "
             f"If you have forgotten your password, ask your admin for a reset link."))
    response.headers["Retry-After"] = str(wait)
    return response


@bp.route("/login/code", methods=["GET", "POST"])
def code():
    """The second step: a code from the authenticator app, or a recovery code."""
    user = g.get("half_signed_in")
    if user is None:
        return redirect(url_for("auth.login"))
    if request.method == "POST":
        wait = signin_limits().attempt(user.email, client_ip())
        if wait:
            return too_many_attempts(wait)
        if twostep.verify_sign_in(user.id, request.form.get("code") or "", ip=client_ip()):
            sessions.finish_two_step(session["sid"])
            audit.record("login", user_id=user.id, tenant_id=user.tenant_id, target=user.email,
                         ip=client_ip(), detail={"two_step": True})
            db.session.commit()
            return redirect(safe_next(request.args.get("next")) or url_for("dashboard.index"))
        audit.record("login_code_failed", user_id=user.id, tenant_id=user.tenant_id,
                     target=user.email, ip=client_ip())
        db.session.commit()
        flash("That code did not work. Codes change every 30 seconds and each works once: "
              "type the one your app shows now, or the next one.", "error")
        return render_template("auth/code.html"), 401
    return render_template("auth/code.html")


@bp.post("/logout")
def logout():
    sessions.end(session.get("sid"))
    if g.user is not None:
        audit.record("logout", user_id=g.user.id, tenant_id=g.user.tenant_id, target=g.user.email,
                     ip=client_ip())
    db.session.commit()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    """Set a new password with a one-time link a tenant admin started (the admin never sees it)."""
    user = accounts.user_for_reset_token(token)
    if user is None:
        return render_error(404, "This reset link has been used, has expired or is not "
                                 "complete. Ask your admin for a new one.")
    error = None
    if request.method == "POST":
        password = request.form.get("password") or ""
        if password != (request.form.get("confirm") or ""):
            error = "The two passwords are not the same."
        else:
            try:
                accounts.set_password(user, password)
            except accounts.AccountError as exc:
                error = str(exc)
        if error is None:
            audit.record("password_set_by_link", user_id=user.id, tenant_id=user.tenant_id,
                         target=user.email, ip=client_ip())
            db.session.commit()
            flash("Your password is set. Sign in with it now.", "success")
            return redirect(url_for("auth.login"))
    response = make_response((render_template("auth/reset.html", user=user, error=error),
                                 400 if error else 200))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
