"""The daily digest: messages held back (muted or not chosen) and problems still open.

Once a day per scope, at ALERT_DIGEST_HOUR (UTC), and only when there is something to say.
"""
import datetime as dt

import sqlalchemy as sa

from paydash.alerts import delivery
from paydash.alerts import messages
from paydash.alerts import recipients
from paydash.extensions import db
from paydash.models import AlertDelivery
from paydash.models import AlertSetting
from paydash.models import AlertState


def _due(setting: AlertSetting | None, cfg, now: dt.datetime) -> bool:
    last = setting.digest_sent_at if setting is not None else None
    return now.hour >= int(cfg["ALERT_DIGEST_HOUR"]) and (last is None or last.date() < now.date())


def send_digests(cfg, now: dt.datetime) -> int:
    """Record today's digest for every scope that is due and has news; returns how many."""
    scopes = set(db.session.scalars(sa.select(AlertDelivery.scope).where(
        AlertDelivery.status == "suppressed", AlertDelivery.created_at >= now - dt.timedelta(days=1))
        .distinct()))
    scopes |= set(db.session.scalars(sa.select(AlertState.scope).where(AlertState.status == "open")
                                     .distinct()))
    sent = 0
    for scope in sorted(scopes):
        setting = recipients.setting_of(scope)
        if not _due(setting, cfg, now):
            continue
        since = (setting.digest_sent_at if setting is not None and setting.digest_sent_at
                 else now - dt.timedelta(days=1))
        quiet = list(db.session.scalars(sa.select(AlertDelivery).where(
            AlertDelivery.scope == scope, AlertDelivery.status == "suppressed",
            AlertDelivery.kind != "digest", AlertDelivery.created_at > since)
            .order_by(AlertDelivery.id)))
        # One line per held-back message, not per channel it would have gone to.
        quiet = list({(d.alert_id, d.kind): d for d in quiet}.values())
        still_open = list(db.session.scalars(sa.select(AlertState).where(
            AlertState.scope == scope, AlertState.status == "open", AlertState.opened_at < now)))
        if not quiet and not still_open:
            continue
        subject, body = messages.digest(scope, quiet, still_open, cfg)
        delivery.record(scope, "digest", recipients.channels_of(scope, cfg), subject, body,
                        quiet=False, alert_id=None, now=now)
        recipients.setting_for_update(scope).digest_sent_at = now
        sent += 1
    db.session.commit()
    return sent
