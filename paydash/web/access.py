"""Who is signed in, what they may do, and the one tenant-scoped way to load owned objects."""
import dataclasses
import datetime as dt
import functools

import sqlalchemy as sa
from flask import abort
from flask import current_app
from flask import g
from flask import redirect
from flask import request
from flask import session
from flask import url_for

from paydash import sessions
from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.models import OPERATOR_ROLES  # noqa: F401  (re-exported for the views)
from paydash.models import Role
from paydash.models import RoleChecks
from paydash.models import Tenant
from paydash.models import User


@dataclasses.dataclass(frozen=True, slots=True)
class SignedInUser(RoleChecks):
    """The signed-in user's own columns, never bound to a database session.

    It answers everything views and templates ask of `g.user` as a `User` would.
    """

    id: int
    tenant_id: int | None
    email: str
    name: str
    role: str
    active: bool = True
    two_step_on: bool = False
    tenant_requires_two_step: bool = False

    @property
    def tenant(self) -> Tenant | None:
        """The user's tenant, loaded in this request's session (never kept on the record)."""
        return None if self.tenant_id is None else db.session.get(Tenant, self.tenant_id)


def session_limits() -> sessions.Limits:
    config = current_app.config
    return sessions.Limits(idle=dt.timedelta(seconds=config["SESSION_IDLE_SECONDS"]),
                           longest=dt.timedelta(seconds=config["SESSION_MAX_SECONDS"]))


def load_user() -> None:
    """Before each request: put the signed-in, active user (or None) on `g.user`.

    The session's row is read on every request (one primary-key lookup joined to its user),
    so a sign-out, deactivation or password change made by any process applies at once.
    A session still waiting for its one-time code puts its user on `g.half_signed_in` only.
    """
    g.user = None
    g.half_signed_in = None
    token = session.get("sid")
    if token is None:
        return
    row = sessions.check(token, session_limits())
    if row is None:
        session.clear()
        return
    user = SignedInUser(row.id, row.tenant_id, row.email, row.name, row.role, row.active,
                        bool(row.two_step_on), bool(row.tenant_requires_two_step))
    if row.two_step_done:
        g.user = user
    else:
        g.half_signed_in = user


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
        wrapped.allowed_roles = frozenset(roles)  # Read by `may_open` for menus and links.
        return wrapped
    return decorator


def may_open(endpoint: str) -> bool:
    """Whether the signed-in user may open a page: by the same roles its view enforces."""
    view = current_app.view_functions.get(endpoint)
    roles = getattr(view, "allowed_roles", None)
    if g.get("user") is not None and g.user.is_operator and endpoint.split(".")[0] in _NO_OPERATORS:
        return False
    return (view is not None and g.get("user") is not None
            and (roles is None or g.user.role in roles))


# Blueprints whose pages show individuals' pay (issue 16): operators run the platform and
# never open them. See README, "Who sees what".
_NO_OPERATORS: set[str] = set()


def keep_operators_out(bp) -> None:
    """Answer 403 to platform and read-only operators on every route of `bp`."""
    _NO_OPERATORS.add(bp.name)

    @bp.before_request
    def _no_operators():
        if g.get("user") is not None and g.user.is_operator:
            abort(403)


def is_operator(user: User | SignedInUser | None = None) -> bool:
    user = user or g.user
    return user is not None and user.is_operator


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
