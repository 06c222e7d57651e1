"""Security headers on every response."""
from flask import current_app
from flask import request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")


def init_app(app) -> None:
    @app.after_request
    def set_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure or current_app.config.get("HSTS"):
            response.headers.setdefault("Strict-Transport-Security",
                                        "max-age=31536000; includeSubDomains")
        return response

    if app.config.get("SESSION_COOKIE_SECURE") is False and app.config["TRUST_PROXY_HEADERS"]:
        # Behind a TLS-terminating proxy we trust, cookies are only sent over TLS.
        app.config["SESSION_COOKIE_SECURE"] = True
