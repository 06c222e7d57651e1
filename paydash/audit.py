"""The audit log: who did what, when, from where."""
import datetime as dt

import sqlalchemy as sa

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.models import AuditLog

# What each action is called on the audit page (issue 14: one plain style). The entry's
# `target` says the same thing about one thing ("Confirmed April 2024 salary sheet").
LABELS = {
    "upload.received": "Uploaded a salary sheet",
    "upload.refused": "File refused",
    "upload.confirmed": "Confirmed a salary sheet",
    "upload.discarded": "Discarded a salary sheet",
    "payroll.saved": "Saved a payroll month",
    "payroll.paid": "Marked a month paid",
    "payroll.unlock": "Unlocked a paid month",
    "payroll.settings": "Changed payroll settings",
    "employee.added": "Added an employee",
    "employee.changed": "Changed an employee",
    "employee.imported": "Imported employees",
}


def readable(detail: dict | None) -> dict | None:
    """Details as a person reads them: yes/no, none, and "old → new" for changes."""
    if not detail:
        return None
    return {key: _plain(value) for key, value in detail.items()}


def _plain(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, dict) and set(value) == {"old", "new"}:
        return f"{_plain(value['old'])} → {_plain(value['new'])}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_plain(v)) for v in value) or "none"
    return value


def record(action: str, *, user_id: int | None, tenant_id: int | None, target: str = "",
           detail: dict | None = None, ip: str | None = None) -> AuditLog:
    """Add an audit entry to the session (committed with the change it describes)."""
    entry = AuditLog(action=action, user_id=user_id, tenant_id=tenant_id, target=target[:200],
                     detail=readable(detail), ip=ip, at=utcnow())
    db.session.add(entry)
    return entry


def count_recent(action: str, *, target: str, ip: str, seconds: int = 60) -> int:
    since = utcnow() - dt.timedelta(seconds=seconds)
    return db.session.scalar(
        sa.select(sa.func.count(AuditLog.id)).where(
            AuditLog.action == action, AuditLog.target == target, AuditLog.ip == ip,
            AuditLog.at >= since)
    ) or 0
