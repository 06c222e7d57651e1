"""The audit log: who did what, when, from where."""
import datetime as dt

import sqlalchemy as sa

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.models import AuditLog


def record(action: str, *, user_id: int | None, tenant_id: int | None, target: str = "",
           detail: dict | None = None, ip: str | None = None) -> AuditLog:
    """Add an audit entry to the session (committed with the change it describes)."""
    entry = AuditLog(action=action, user_id=user_id, tenant_id=tenant_id, target=target[:200],
                     detail=detail, ip=ip, at=utcnow())
    db.session.add(entry)
    return entry


def count_recent(action: str, *, target: str, ip: str, seconds: int = 60) -> int:
    since = utcnow() - dt.timedelta(seconds=seconds)
    return db.session.scalar(
        sa.select(sa.func.count(AuditLog.id)).where(
            AuditLog.action == action, AuditLog.target == target, AuditLog.ip == ip,
            AuditLog.at >= since)
    ) or 0
