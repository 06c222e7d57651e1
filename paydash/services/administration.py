"""Tenant user management and the audit log's reads and exports (no Flask request needed).

Every change to a user is recorded in the audit log in the same transaction as the change,
so the log can never miss one. Callers pass the acting user and the client address.
"""
import csv
import datetime as dt
import io
import json
import logging
import zoneinfo
from dataclasses import dataclass

import sqlalchemy as sa
from openpyxl import Workbook

from paydash import accounts
from paydash import audit
from paydash import sessions
from paydash.extensions import db
from paydash.models import AuditLog
from paydash.models import Role
from paydash.models import Tenant
from paydash.models import User
from paydash.sheets.exports import safe_cell

logger = logging.getLogger(__name__)

# Roles a tenant admin may give: never an operator role, which spans every tenant.
TENANT_ROLES = (Role.HR.value, Role.TENANT_ADMIN.value)
EXPORT_LIMIT = 100_000
EXPORT_COLUMNS = ("When (UTC)", "Who", "Tenant", "Action", "Target", "Details", "From")
ACTION_LABELS = {
    "login": "Signed in",
    "login_failed": "Failed sign-in",
    "user_created": "User created",
    "user_deactivated": "User deactivated",
    "user_reactivated": "User reactivated",
    "user_password_reset": "Password reset",
    **audit.LABELS,
    "logout": "Signed out",
    "login_password_ok": "Password accepted, code asked",
    "login_code_failed": "Wrong sign-in code",
    "password_changed": "Password changed",
    "password_set_by_link": "Password set with a reset link",
    "sessions_ended": "Other sessions signed out",
    "two_step_enabled": "Two-step sign-in turned on",
    "two_step_disabled": "Two-step sign-in turned off",
    "recovery_code_used": "Recovery code used",
    "tenant_two_step_required": "Two-step sign-in required for the tenant",
    "tenant_two_step_optional": "Two-step sign-in optional for HR",
    "tenant_timezone_changed": "Time zone changed",
}


# Audit details that hold individuals' pay (issue 16): operators read the log without them.
PAY_DETAILS = frozenset({"advances_recovered"})


def detail_shown(detail: dict | None, *, operator: bool) -> dict | None:
    """An entry's details as this reader may see them: operators never see individuals' pay."""
    if not detail or not operator:
        return detail
    return {key: ("(hidden from operators)" if key in PAY_DETAILS else value)
            for key, value in detail.items()}


@dataclass
class AuditQuery:
    """Filters for the audit log; `tenant_id` None means every tenant (operators only)."""

    tenant_id: int | None
    action: str = ""
    who: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    zone: str = "UTC"  # the dates are days in this zone (the tenant's, as every page shows)


def _utc_midnight(day: dt.date, zone: str) -> dt.datetime:
    """The stored (naive UTC) time at which `day` begins in `zone`."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=zoneinfo.ZoneInfo(zone))
    return start.astimezone(dt.UTC).replace(tzinfo=None)


def tenant_users(tenant_id: int) -> list[User]:
    return list(db.session.scalars(
        sa.select(User).where(User.tenant_id == tenant_id).order_by(User.active.desc(), User.email)))


def create_tenant_user(actor: User, *, email: str, name: str, role: str,
                       ip: str | None) -> tuple[User, str]:
    """Create a user in the actor's tenant; returns the user and a one-time token for the
    link with which they choose their own password (nobody else ever knows it).

    Raises accounts.AccountError with a sentence for the admin when the request is invalid.
    """
    if role not in TENANT_ROLES:
        raise accounts.AccountError("Choose HR or tenant admin as the role.")
    if "@" not in (email or "") or len(email) > 254:
        raise accounts.AccountError("Enter the person's email address.")
    tenant = db.session.get(Tenant, actor.tenant_id)
    user = accounts.create_user(email, None, name=(name or "").strip()[:200], role=role,
                                tenant=tenant)
    token = accounts.start_password_reset(user)
    _audit(actor, "user_created", user, ip, {"role": role})
    db.session.commit()
    logger.info("tenant %s: user %s created by %s", actor.tenant_id, user.id, actor.id)
    return user, token


def set_active(actor: User, user: User, active: bool, *, ip: str | None) -> None:
    """Deactivate (every session ends at once) or reactivate a user of the tenant."""
    if user.id == actor.id and not active:
        raise accounts.AccountError("You cannot deactivate your own account.")
    if user.active == active:
        return
    user.active = active
    if not active:
        sessions.end_all(user.id)
    _audit(actor, "user_reactivated" if active else "user_deactivated", user, ip, None)
    db.session.commit()


def reset_password(actor: User, user: User, *, ip: str | None) -> str:
    """Start a password reset: the old password and every session end now; returns the token
    of a one-time link (valid accounts.RESET_LINK_HOURS) with which the user sets a new one."""
    token = accounts.start_password_reset(user)
    _audit(actor, "user_password_reset", user, ip, None)
    db.session.commit()
    return token


def set_timezone(actor: User, zone: str, *, ip: str | None) -> Tenant:
    """Set the time zone the actor's tenant reads its pages in (an IANA name, "Asia/Kolkata")."""
    zone = (zone or "").strip()
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise accounts.AccountError(f"'{zone[:60]}' is not a time zone Paydash knows. "
                                    "Pick one from the list, for example Asia/Kolkata.") from None
    tenant = db.session.get(Tenant, actor.tenant_id)
    if tenant.timezone != zone:
        audit.record("tenant_timezone_changed", user_id=actor.id, tenant_id=tenant.id,
                     target=tenant.name, detail={"from": tenant.timezone, "to": zone}, ip=ip)
        tenant.timezone = zone
        db.session.commit()
    return tenant


def _audit(actor: User, action: str, user: User, ip: str | None, detail: dict | None) -> None:
    audit.record(action, user_id=actor.id, tenant_id=user.tenant_id, target=user.email,
                 detail=detail, ip=ip)


# --- Reading and exporting the log -------------------------------------------------------------


def _select(query: AuditQuery) -> sa.Select:
    stmt = sa.select(AuditLog).options(sa.orm.joinedload(AuditLog.user))
    if query.tenant_id is not None:
        stmt = stmt.where(AuditLog.tenant_id == query.tenant_id)
    if query.action:
        stmt = stmt.where(AuditLog.action == query.action)
    if query.who:
        pattern = f"%{query.who.strip().lower()}%"
        stmt = stmt.outerjoin(User, User.id == AuditLog.user_id).where(sa.or_(
            sa.func.lower(User.email).like(pattern), sa.func.lower(User.name).like(pattern),
            sa.func.lower(AuditLog.target).like(pattern)))
    if query.date_from:
        stmt = stmt.where(AuditLog.at >= _utc_midnight(query.date_from, query.zone))
    if query.date_to:
        stmt = stmt.where(AuditLog.at < _utc_midnight(query.date_to + dt.timedelta(days=1), query.zone))
    return stmt.order_by(AuditLog.at.desc(), AuditLog.id.desc())


def audit_page(query: AuditQuery, page: int, per_page: int = 100) -> tuple[list[AuditLog], bool]:
    """One page of entries, newest first, and whether another page follows."""
    page = max(page, 1)
    rows = list(db.session.scalars(_select(query).offset((page - 1) * per_page).limit(per_page + 1)))
    return rows[:per_page], len(rows) > per_page


def audit_actions(tenant_id: int | None) -> list[str]:
    stmt = sa.select(AuditLog.action).distinct().order_by(AuditLog.action)
    if tenant_id is not None:
        stmt = stmt.where(AuditLog.tenant_id == tenant_id)
    return list(db.session.scalars(stmt))


def tenant_names() -> dict[int, str]:
    return dict(db.session.execute(sa.select(Tenant.id, Tenant.name)).all())


def export_rows(query: AuditQuery, *, operator: bool = False) -> list[list]:
    """The filtered log as rows of formula-safe cells (at most EXPORT_LIMIT)."""
    names = tenant_names()
    return [[safe_cell(value) for value in _row(entry, names, operator)]
            for entry in db.session.scalars(_select(query).limit(EXPORT_LIMIT))]


def _row(entry: AuditLog, names: dict[int, str], operator: bool) -> list:
    who = entry.user.email if entry.user else ""
    shown = detail_shown(entry.detail, operator=operator)
    detail = json.dumps(shown, sort_keys=True, default=str) if shown else ""
    return [entry.at.strftime("%Y-%m-%d %H:%M:%S"), who, names.get(entry.tenant_id, ""),
            entry.action, entry.target or "", detail, entry.ip or ""]


def to_csv(rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(rows)
    # A byte-order mark so Excel reads the file as UTF-8 (names are often not ASCII).
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(rows: list[list]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Audit log")
    sheet.append(EXPORT_COLUMNS)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
