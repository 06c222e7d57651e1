"""Tenants and users: creation and sign-in (passwords hashed with scrypt)."""
import re
from collections.abc import Iterable

import sqlalchemy as sa
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.models import Role
from paydash.models import Tenant
from paydash.models import User

# Checked against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = generate_password_hash("paydash-timing-equaliser", method="scrypt")
# Built once, in Core: every signed-in request whose user is not cached runs it, and the
# ORM's identity-map get cost several times the query itself.
_U = User.__table__.c
_SESSION_USER = sa.select(_U.id, _U.tenant_id, _U.email, _U.name, _U.role, _U.active,
                          _U.password_hash).where(_U.id == sa.bindparam("user_id"))


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


def create_user(email: str, password: str, *, name: str = "", role: str = Role.HR.value,
                tenant: Tenant | None = None) -> User:
    email = email.strip().lower()
    if role not in {r.value for r in Role}:
        raise AccountError(f"Unknown role '{role}'.")
    operator = role in (Role.OPERATOR.value, Role.READONLY_OPERATOR.value)
    if tenant is None and not operator:
        raise AccountError("HR users and tenant admins belong to a tenant.")
    if len(password) < 8:
        raise AccountError("Passwords need at least 8 characters.")
    if db.session.scalar(sa.select(User).where(User.email == email)):
        raise AccountError(f"A user with the email {email} already exists.")
    user = User(email=email, name=name or email.split("@")[0], role=role,
                tenant_id=None if operator else tenant.id,
                password_hash=generate_password_hash(password, method="scrypt"))
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
    return user


def session_user(user_id: int) -> sa.Row | None:
    """The columns a signed-in session is checked against (id, tenant, role, active, hash...)."""
    return db.session.connection().execute(_SESSION_USER, {"user_id": user_id}).first()


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
