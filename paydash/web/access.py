"""Who is signed in, what they may do, and the one tenant-scoped way to load owned objects."""
import functools

import sqlalchemy as sa
from flask import abort
from flask import g
from flask import redirect
from flask import request
from flask import session
from flask import url_for

from paydash.extensions import db
from paydash.models import Job
from paydash.models import Role
from paydash.models import User

OPERATOR_ROLES = (Role.OPERATOR.value, Role.READONLY_OPERATOR.value)


def load_user() -> None:
    """Before each request: put the signed-in, active user (or None) on `g.user`."""
    user_id = session.get("user_id")
    g.user = None
    if user_id is not None:
        user = db.session.get(User, user_id)
        if user is not None and user.active and session.get("pw") == user.password_hash[-12:]:
            g.user = user


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("user") is None:
            if wants_json():
                abort(401)
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)
    return wrapped


def roles_required(*roles: str):
    """Sign-in plus one of `roles`; any other signed-in user gets 403."""
    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if g.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def is_operator(user: User | None = None) -> bool:
    user = user or g.user
    return user is not None and user.role in OPERATOR_ROLES


def tenant_filter(stmt: sa.Select, model) -> sa.Select:
    """Restrict a select on a tenant-owned model to the signed-in user's tenant.

    Platform operators (and read-only operators) see every tenant. Every query on a
    tenant-owned model goes through here, so the rule lives in one place.
    """
    if is_operator():
        return stmt
    return stmt.where(model.tenant_id == g.user.tenant_id)


def get_owned_or_404(model, object_id):
    """Load a tenant-owned object by id; another tenant's object is a 404, never a 403."""
    pk = model.__mapper__.primary_key[0]
    obj = db.session.scalars(tenant_filter(sa.select(model).where(pk == object_id), model)).first()
    if obj is None:
        abort(404)
    return obj


def job_filter(stmt: sa.Select) -> sa.Select:
    """Jobs a user may see: operators all, tenant admins their tenant's, HR their own."""
    user = g.user
    if is_operator(user):
        return stmt
    if user.role == Role.TENANT_ADMIN.value:
        return stmt.where(Job.tenant_id == user.tenant_id)
    return stmt.where(Job.tenant_id == user.tenant_id, Job.requested_by_id == user.id)


def get_visible_job_or_404(job_id: str) -> Job:
    job = db.session.scalars(job_filter(sa.select(Job).where(Job.id == job_id))).first()
    if job is None:
        abort(404)
    return job


def client_ip() -> str:
    return request.remote_addr or "unknown"
