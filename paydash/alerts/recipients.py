"""Who hears about a scope's problems, which conditions they want, and what they muted."""
import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa

from paydash.alerts.conditions import CONDITIONS
from paydash.alerts.conditions import PLATFORM
from paydash.extensions import db
from paydash.models import AlertSetting
from paydash.models import Role
from paydash.models import User

EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
MUTE_CHOICES = {1: "1 hour", 4: "4 hours", 24: "1 day", 168: "1 week"}


class BadSetting(ValueError):
    """A setting an admin typed that cannot work; the message says how to fix it."""


@dataclass
class Channels:
    emails: list[str]
    webhook_url: str | None

    def __bool__(self) -> bool:
        return bool(self.emails or self.webhook_url)


def tenant_of(scope: str) -> int | None:
    return int(scope.split(":", 1)[1]) if scope.startswith("tenant:") else None


def conditions_for(scope: str) -> list[str]:
    """The conditions a scope can hear about (tenant admins: their own tenant's ones)."""
    return [name for name, c in CONDITIONS.items() if scope == PLATFORM or c.for_tenants]


def setting_of(scope: str) -> AlertSetting | None:
    return db.session.scalar(sa.select(AlertSetting).where(AlertSetting.scope == scope))


def setting_for_update(scope: str) -> AlertSetting:
    setting = setting_of(scope)
    if setting is None:
        setting = AlertSetting(scope=scope, tenant_id=tenant_of(scope), disabled=[], muted={})
        db.session.add(setting)
    return setting


def default_emails(scope: str, cfg) -> list[str]:
    """Platform: ALERT_OPERATOR_EMAILS, else the operators; a tenant: its active admins."""
    if scope == PLATFORM and cfg.get("ALERT_OPERATOR_EMAILS"):
        return parse_emails(cfg["ALERT_OPERATOR_EMAILS"])
    stmt = sa.select(User.email).where(User.active.is_(True)).order_by(User.id)
    if scope == PLATFORM:
        stmt = stmt.where(User.role == Role.OPERATOR.value)
    else:
        stmt = stmt.where(User.role == Role.TENANT_ADMIN.value, User.tenant_id == tenant_of(scope))
    return list(db.session.scalars(stmt))


def channels_of(scope: str, cfg) -> Channels:
    setting = setting_of(scope)
    emails = (parse_emails(setting.emails) if setting is not None and setting.emails is not None
              else default_emails(scope, cfg))
    webhook = setting.webhook_url if setting is not None else None
    if webhook is None and scope == PLATFORM:
        webhook = cfg.get("ALERT_OPERATOR_WEBHOOK_URL")
    return Channels(emails, webhook or None)


def muted_until(setting: AlertSetting | None, condition: str, now: dt.datetime) -> dt.datetime | None:
    if setting is None or not setting.muted or condition not in setting.muted:
        return None
    until = dt.datetime.fromisoformat(setting.muted[condition])
    return until if until > now else None


def wanted(scope: str, condition: str, now: dt.datetime) -> bool:
    """Does the scope want a message about `condition` now (chosen, and not muted)?"""
    setting = setting_of(scope)
    if setting is not None and condition in (setting.disabled or []):
        return False
    return muted_until(setting, condition, now) is None


def parse_emails(text: str | None) -> list[str]:
    """Addresses separated by commas, semicolons, spaces or lines; a bad one raises BadSetting."""
    found = [part for part in re.split(r"[\s,;]+", text or "") if part]
    bad = [part for part in found if not EMAIL.match(part)]
    if bad:
        raise BadSetting(f"'{bad[0]}' is not an email address. Write addresses like name@example.com, "
                         "separated by commas.")
    return list(dict.fromkeys(found))


def save(scope: str, *, emails: str, webhook_url: str, wanted_conditions: list[str]) -> AlertSetting:
    """Store what an admin chose; nothing is stored when a value cannot work."""
    addresses = parse_emails(emails)
    url = (webhook_url or "").strip()
    if url and not re.match(r"^https?://[^\s/]+", url):
        raise BadSetting("The webhook address must start with https:// (or http://), like the one "
                         "Slack or Teams gives you.")
    setting = setting_for_update(scope)
    setting.emails = ", ".join(addresses) if emails.strip() else None
    setting.webhook_url = url or None
    setting.disabled = [c for c in conditions_for(scope) if c not in wanted_conditions]
    db.session.commit()
    return setting


def mute(scope: str, condition: str, hours: int, now: dt.datetime) -> dt.datetime:
    if condition not in conditions_for(scope) or hours not in MUTE_CHOICES:
        raise BadSetting("Choose an alert and how long to mute it.")
    setting = setting_for_update(scope)
    until = now + dt.timedelta(hours=hours)
    setting.muted = {**(setting.muted or {}), condition: until.isoformat()}
    db.session.commit()
    return until


def unmute(scope: str, condition: str) -> None:
    setting = setting_of(scope)
    if setting is not None and setting.muted and condition in setting.muted:
        setting.muted = {k: v for k, v in setting.muted.items() if k != condition}
        db.session.commit()
