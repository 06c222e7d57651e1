"""Readable error pages and JSON errors: no traceback ever reaches a user."""
import logging

import sqlalchemy as sa
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError

from paydash.extensions import db
from paydash.ledger import outage
from paydash.ledger.views import plain_status
from paydash.web.access import may_open
from paydash.web.access import wants_json
from paydash.web.job_titles import job_title

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 15

MESSAGES = {
    400: ("Something in that request was not right", "Go back, check the form and try again."),
    401: ("Please sign in", "Your session has ended or you are not signed in."),
    403: ("Not allowed", "Your account does not have permission for this. Ask your admin."),
    404: ("Not found", "That page or record does not exist, or it belongs to someone else."),
    405: ("Not allowed", "That action cannot be done this way."),
    413: ("File too large", "The file is larger than the upload limit. Remove unused sheets, "
                            "images or formatting and save it again, or split it by month."),
    429: ("Too many attempts", "Please wait a minute before trying again."),
    500: ("Something went wrong on our side", "The problem has been logged. Please try again in "
                                              "a moment; your data is safe."),
    503: ("Temporarily unavailable", "Part of Paydash is not reachable right now. Please try "
                                     "again shortly."),
}


def render_error(code: int, detail: str | None = None):
    title, hint = MESSAGES.get(code, (f"Error {code}", ""))
    if code == 413:
        hint = f"The limit is {current_app.config['MAX_UPLOAD_MB']} MB. " + hint
    if wants_json():
        return jsonify(error=title, detail=detail or hint, status=code), code
    try:
        return render_template("error.html", code=code, title=title, hint=detail or hint), code
    except Exception:  # The page itself failed: still no traceback for the user.
        logger.exception("error page %s failed to render", code)
        return f"{title}. {detail or hint}", code, {"Content-Type": "text/plain; charset=utf-8"}


def outage_response(exc: Exception):
    """503 with Retry-After while the database does not answer: a plain page, or JSON.

    Logged once per outage (`paydash.ledger.outage`), not as a traceback per request.
    """
    outage.database_unreachable(f"web {request.method} {request.path}", exc)
    _forget_session()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if wants_json():
        return jsonify(error="Temporarily unavailable", status=503, retry_after=RETRY_AFTER_SECONDS,
                       detail="The database is not reachable right now. Your data is safe; "
                              "try again shortly."), 503, headers
    try:
        page = render_template("errors/outage.html", retry_after=RETRY_AFTER_SECONDS)
    except Exception:  # Still no traceback for the user.
        logger.exception("the outage page failed to render")
        page = "Paydash is briefly unavailable. Your data is safe. Please try again shortly."
    return page, 503, headers


def _forget_session() -> None:
    try:
        db.session.rollback()
    except Exception:  # Its connection is gone: the next request takes a new one.
        db.session.remove()


def _check_database_back() -> None:
    """During an outage, a request that worked asks the database once whether it is back."""
    try:
        db.session.execute(sa.text("select 1"))
    except Exception:  # Still away: the outage goes on (logged a line a minute).
        _forget_session()
        return
    outage.DATABASE.answered()


def init_app(app) -> None:
    @app.context_processor
    def template_helpers():
        return {"may_open": may_open, "plain_status": plain_status, "job_title": job_title}

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_error(400, "The form expired or came from another site. Reload the page "
                                 "and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if isinstance(exc, InternalServerError):
            return internal_error(exc)
        return render_error(exc.code or 500)

    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(sa.exc.InterfaceError)
    @app.errorhandler(sa.exc.TimeoutError)
    def database_unreachable(exc):
        return outage_response(exc)

    @app.after_request
    def database_back(response):
        if outage.DATABASE.ongoing and response.status_code < 500:
            _check_database_back()
        return response

    @app.errorhandler(Exception)
    def internal_error(exc):
        logger.exception("unhandled error: %s", exc)
        return render_error(500)
