"""Tenants and users: creation, sign-in and passwords (hashed with scrypt, see passwords.py)."""
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable

import sqlalchemy as sa
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from paydash import passwords
from paydash import sessions
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.models import Role
from paydash.models import Tenant
from paydash.models import User

# Checked against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = generate_password_hash("paydash-timing-equaliser", method=passwords.HASH_METHOD)
RESET_LINK_HOURS = 72


class AccountError(ValueError):
    """A request to create or change an account that cannot be honoured; the text says why."""


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80] or "tenant"


def create_tenant(name: str, slug: str | None = None) -> Tenant:
    slug = slug or slugify(name)
    if db.session.scalar(sa.select(Tenant).where(Tenant.slug == slug)):
        raise AccountError(f"A tenant with the short name '{slug}' already exists.")
    tenant = Tenant(name=name, slug=slug)
    db.session.add(tenant)
    db.session.flush()
    return tenant


def create_user(email: str, password: str | None, *, name: str = "", role: str = Role.HR.value,
                tenant: Tenant | None = None) -> User:
    """Create a user; with `password` None nobody can sign in until a reset link is used."""
    email = email.strip().lower()
    if role not in {r.value for r in Role}:
        raise AccountError(f"Unknown role '{role}'.")
    operator = role in (Role.OPERATOR.value, Role.READONLY_OPERATOR.value)
    if tenant is None and not operator:
        raise AccountError("HR users and tenant admins belong to a tenant.")
    if password is not None:
        _check_password(password, email)
    if db.session.scalar(sa.select(User).where(User.email == email)):
        raise AccountError(f"A user with the email {email} already exists.")
    user = User(email=email, name=name or email.split("@")[0], role=role,
                tenant_id=None if operator else tenant.id,
                password_hash=_hash(password if password is not None else secrets.token_urlsafe(32)))
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same work either way)."""
    user = db.session.scalar(sa.select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    if passwords.needs_rehash(user.password_hash):
        # Made with older parameters: replace it now that we hold the password (caller commits).
        user.password_hash = _hash(password)
    return user


def _hash(password: str) -> str:
    return generate_password_hash(password, method=passwords.HASH_METHOD)


def _check_password(password: str, email: str) -> None:
    try:
        passwords.check(password, email=email)
    except passwords.PasswordRejected as exc:
        raise AccountError(str(exc)) from None


def set_password(user: User, password: str, *, keep_session: str | None = None) -> None:
    """Give the user a new password and end their other sessions (the caller commits)."""
    _check_password(password, user.email)
    user.password_hash = _hash(password)
    user.reset_token_hash = None
    user.reset_token_expires = None
    sessions.end_all(user.id, keep_token=keep_session)


def start_password_reset(user: User) -> str:
    """Make a one-time reset token for the user (caller commits); returns the token.

    The old password stops working and every session ends at once: a reset is often asked
    for because the account may be in someone else's hands.
    """
    token = secrets.token_urlsafe(32)
    user.reset_token_hash = hashlib.sha256(token.encode()).hexdigest()
    user.reset_token_expires = utcnow() + dt.timedelta(hours=RESET_LINK_HOURS)
    user.password_hash = _hash(secrets.token_urlsafe(32))
    sessions.end_all(user.id)
    return token


def user_for_reset_token(token: str | None) -> User | None:
    """The active user a reset token belongs to, while it is unused and unexpired."""
    if not token or len(token) > 200:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    user = db.session.scalar(sa.select(User).where(User.reset_token_hash == digest))
    if user is None or not user.active or user.reset_token_expires is None:
        return None
    return user if user.reset_token_expires > utcnow() else None


def names_for(jobs: Iterable[Job]) -> dict:
    """Tenant and user names for a page of jobs, in two queries."""
    jobs = list(jobs)
    tenant_ids = {j.tenant_id for j in jobs if j.tenant_id}
    user_ids = {j.requested_by_id for j in jobs if j.requested_by_id}
    tenants = dict(db.session.execute(
        sa.select(Tenant.id, Tenant.name).where(Tenant.id.in_(tenant_ids))).all()) if tenant_ids else {}
    users = dict(db.session.execute(
        sa.select(User.id, User.name).where(User.id.in_(user_ids))).all()) if user_ids else {}
    return {"tenants": tenants, "users": users}
