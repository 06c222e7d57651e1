"""Sign-in and sign-out."""
from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for

from paydash import accounts
from paydash import audit
from paydash.extensions import db
from paydash.web.access import client_ip
from paydash.web.access import load_user

bp = Blueprint("auth", __name__)
bp.before_app_request(load_user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        email = (request.form.get("email") or "").strip().lower()
        ip = client_ip()
        limit = current_app.config["LOGIN_RATE_LIMIT"]
        if audit.count_recent("login_failed", target=email, ip=ip) >= limit:
            abort(429)
        user = accounts.authenticate(email, request.form.get("password") or "")
        if user is None:
            audit.record("login_failed", user_id=None, tenant_id=None, target=email, ip=ip)
            db.session.commit()
            flash("That email and password do not match an account.", "error")
            return render_template("auth/login.html", email=email), 401
        session.clear()
        session["user_id"] = user.id
        session["pw"] = user.password_hash[-12:]
        session.permanent = True
        audit.record("login", user_id=user.id, tenant_id=user.tenant_id, target=email, ip=ip)
        db.session.commit()
        return redirect(_safe_next(request.args.get("next")) or url_for("dashboard.index"))
    if g.user is not None:
        return redirect(url_for("dashboard.index"))
    return render_template("auth/login.html", email="")


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: never redirect a user to another host after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None
