"""Gunicorn's access log without the static files, for `manage.py start` on a laptop.

`manage.py start` passes `--logger-class paydash.web.accesslog.PageAccessLogger` through
GUNICORN_CMD_ARGS, so the printed logins do not scroll away under a line per stylesheet.
Deployments keep gunicorn's full access log (the Procfile does not name this class).
"""
from gunicorn.glogging import Logger

QUIET_PREFIXES = ("/static/", "/favicon.ico")


class PageAccessLogger(Logger):
    """Logs every request but those for static files."""

    def access(self, resp, req, environ, request_time):
        if (environ.get("PATH_INFO") or "").startswith(QUIET_PREFIXES):
            return
        super().access(resp, req, environ, request_time)
