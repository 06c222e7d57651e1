"""Sending messages: email over SMTP (settings from the environment) and a JSON webhook.

Each message is an `AlertDelivery` row first, then sent by the worker. An attempt is
claimed with a conditional update, so two consumers never send the same row twice; a
failure is retried later, each wait twice the last, until ALERT_MAX_ATTEMPTS.
"""
import datetime as dt
import email.policy
import ipaddress
import json
import logging
import smtplib
import socket
import urllib.parse
import urllib.request
from email.message import EmailMessage

import sqlalchemy as sa

from paydash.alerts import messages
from paydash.extensions import db
from paydash.models import AlertDelivery

logger = logging.getLogger(__name__)


class NotConfigured(RuntimeError):
    """A channel without the settings it needs (no SMTP_HOST)."""


def send_email(cfg, to: list[str], subject: str, body: str) -> None:
    if not cfg.get("SMTP_HOST"):
        raise NotConfigured("SMTP_HOST is not set, so no email can be sent")
    # Long subjects unfolded: the stdlib folds a long ASCII subject onto a line of its own,
    # which readers then show with a leading space (RFC 5322 allows lines up to 998).
    message = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    message["From"] = cfg["ALERT_EMAIL_FROM"]
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    smtp_class = smtplib.SMTP_SSL if cfg.get("SMTP_SSL") else smtplib.SMTP
    with smtp_class(cfg["SMTP_HOST"], int(cfg["SMTP_PORT"]), timeout=float(cfg["SMTP_TIMEOUT"])) as smtp:
        if cfg.get("SMTP_STARTTLS") and not cfg.get("SMTP_SSL"):
            smtp.starttls()
        if cfg.get("SMTP_USERNAME"):
            smtp.login(cfg["SMTP_USERNAME"], cfg.get("SMTP_PASSWORD") or "")
        smtp.send_message(message)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is refused: a redirect could point the worker anywhere."""

    def redirect_request(self, *args, **kwargs):
        return None


def check_webhook_host(cfg, webhook_url: str) -> None:
    """Refuse a tenant's webhook that points inside the platform's own network.

    A tenant admin types the address and the worker posts to it: without this check the
    worker could be made to call the cloud metadata service or an internal admin port.
    Operators' webhooks (and tests) may allow it with ALERT_WEBHOOK_ALLOW_PRIVATE.
    """
    if cfg.get("ALERT_WEBHOOK_ALLOW_PRIVATE"):
        return
    parts = urllib.parse.urlsplit(webhook_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the webhook address must start with https://")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise ValueError(f"the webhook host {parts.hostname} is not known") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise ValueError(f"the webhook host {parts.hostname} is a private address; "
                             "Paydash posts only to public addresses")


def post_webhook(cfg, webhook_url: str, payload: dict, *, trusted: bool = False) -> None:
    if not trusted:
        check_webhook_host(cfg, webhook_url)
    opener = urllib.request.build_opener(_NoRedirects)
    request = urllib.request.Request(webhook_url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "Paydash alerts"})
    with opener.open(request, timeout=float(cfg["SMTP_TIMEOUT"])) as response:
        if not 200 <= response.status < 300:
            raise RuntimeError(f"the webhook answered HTTP {response.status}")


def send(cfg, channel: str, target: str, subject: str, body: str, **extra) -> None:
    """Send one message now (raises on failure)."""
    if channel == "email":
        send_email(cfg, [a.strip() for a in target.split(",") if a.strip()], subject, body)
    else:
        # The operators' own webhook from the environment is trusted; any typed one is checked.
        trusted = target == cfg.get("ALERT_OPERATOR_WEBHOOK_URL")
        post_webhook(cfg, target, messages.webhook_payload(subject, body, **extra), trusted=trusted)


def record(scope: str, kind: str, channels, subject: str, body: str, *, quiet: bool,
           alert_id: int | None, now: dt.datetime) -> list[AlertDelivery]:
    """One row per channel: pending (to send), or suppressed (kept for the digest)."""
    rows = []
    targets = [("email", ", ".join(channels.emails))] if channels.emails else []
    if channels.webhook_url:
        targets.append(("webhook", channels.webhook_url))
    for channel, target in targets:
        rows.append(AlertDelivery(alert_id=alert_id, scope=scope, kind=kind, channel=channel,
                                  target=target, subject=subject, body=body,
                                  status="suppressed" if quiet else "pending",
                                  next_attempt_at=now, created_at=now))
    db.session.add_all(rows)
    return rows


def deliver_due(cfg, now: dt.datetime, limit: int = 100) -> dict:
    """Send every pending message whose time has come; returns counts of sent and failed."""
    due = list(db.session.execute(
        sa.select(AlertDelivery.id, AlertDelivery.attempts)
        .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now)
        .order_by(AlertDelivery.id).limit(limit)).all())
    counts = {"sent": 0, "failed": 0, "retrying": 0}
    for delivery_id, attempts in due:
        wait = float(cfg["ALERT_RETRY_SECONDS"]) * 2 ** attempts
        claimed = db.session.execute(
            sa.update(AlertDelivery)
            .where(AlertDelivery.id == delivery_id, AlertDelivery.status == "pending",
                   AlertDelivery.attempts == attempts)
            .values(attempts=attempts + 1, next_attempt_at=now + dt.timedelta(seconds=wait))).rowcount
        db.session.commit()
        if claimed:
            counts[_attempt(cfg, db.session.get(AlertDelivery, delivery_id), now)] += 1
    return counts


def _attempt(cfg, row: AlertDelivery, now: dt.datetime) -> str:
    try:
        send(cfg, row.channel, row.target, row.subject, row.body, scope=row.scope, kind=row.kind,
             alert_id=row.alert_id)
    except Exception as exc:  # Any failure of the far end: record it and try again later.
        logger.warning("alert delivery %s (%s, %s) failed, attempt %s: %s", row.id, row.channel,
                       row.scope, row.attempts, exc)
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        # No SMTP settings will not fix itself by waiting: fail at once, with the reason.
        gave_up = isinstance(exc, NotConfigured) or row.attempts >= int(cfg["ALERT_MAX_ATTEMPTS"])
        outcome = "failed" if gave_up else "retrying"
        if outcome == "failed":
            row.status = "failed"
        db.session.commit()
        return outcome
    row.status, row.sent_at, row.last_error = "sent", now, None
    db.session.commit()
    logger.info("alert delivery %s sent (%s, %s, %s)", row.id, row.channel, row.kind, row.scope)
    return "sent"
