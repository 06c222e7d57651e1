"""Who is signed in, what they may do, and the one tenant-scoped way to load owned objects."""
import dataclasses
import functools
import threading
import time
import weakref
from collections import OrderedDict

import sqlalchemy as sa
from flask import abort
from flask import current_app
from flask import g
from flask import redirect
from flask import request
from flask import session
from flask import url_for

from paydash import accounts
from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.models import OPERATOR_ROLES  # noqa: F401  (re-exported for the views)
from paydash.models import Role
from paydash.models import RoleChecks
from paydash.models import Tenant
from paydash.models import User

USER_CACHE_ENTRIES = 1024


@dataclasses.dataclass(frozen=True, slots=True)
class SignedInUser(RoleChecks):
    """The signed-in user's own columns, shared between requests and so never bound to a session.

    It answers everything views and templates ask of `g.user` as a `User` would.
    """

    id: int
    tenant_id: int | None
    email: str
    name: str
    role: str
    active: bool = True

    @property
    def tenant(self) -> Tenant | None:
        """The user's tenant, loaded in this request's session (never kept on the record)."""
        return None if self.tenant_id is None else db.session.get(Tenant, self.tenant_id)


# Every live cache, so a change to a user in this process reaches the caches of every app.
_CACHES: "weakref.WeakSet[SignedInUserCache]" = weakref.WeakSet()
_CHANGED_USERS = "paydash_changed_user_ids"


class SignedInUserCache:
    """Signed-in users by (user id, password-hash tail), each kept `seconds` at most; one per app.

    A change to a user written through the ORM in this process drops that user from every
    cache at once (at flush and again at commit). A change made by another process (the
    other web workers, the worker, a CLI command) is seen when the entry expires: that is
    the longest a deactivated user or an old password keeps working there.
    """

    def __init__(self, seconds: float, entries: int = USER_CACHE_ENTRIES):
        self.seconds = seconds
        self.entries = entries
        self.generation = 0
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        _CACHES.add(self)

    def get(self, key: tuple) -> SignedInUser | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if time.monotonic() - item[0] >= self.seconds:
                del self._items[key]
                return None
            return item[1]

    def put(self, key: tuple, user: SignedInUser, generation: int) -> None:
        """Keep `user`, read when the cache was at `generation`, unless a user changed since."""
        with self._lock:
            if generation != self.generation:
                return
            # Insertion order is expiry order, so the oldest entry goes first.
            self._items.pop(key, None)
            self._items[key] = (time.monotonic(), user)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def forget(self, user_ids: set[int]) -> None:
        with self._lock:
            self.generation += 1
            for key in [k for k in self._items if k[0] in user_ids]:
                del self._items[key]


def _forget_users(user_ids: set[int]) -> None:
    for cache in list(_CACHES):
        cache.forget(user_ids)


@sa.event.listens_for(User, "after_update")
@sa.event.listens_for(User, "after_delete")
def _user_changed(_mapper, _connection, user: User) -> None:
    _forget_users({user.id})
    # Forget again once the change is committed: a request in another thread may have read
    # (and cached) the row as it was between this flush and the commit.
    orm_session = sa.orm.object_session(user)
    if orm_session is not None:
        orm_session.info.setdefault(_CHANGED_USERS, set()).add(user.id)


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _users_committed(orm_session) -> None:
    changed = orm_session.info.pop(_CHANGED_USERS, None)
    if changed:
        _forget_users(changed)


def user_cache() -> SignedInUserCache | None:
    """This app's cache, or None when `USER_CACHE_SECONDS` is 0 (every request reads the user)."""
    cache = current_app.extensions.get("paydash_user_cache")
    if cache is None:
        seconds = float(current_app.config.get("USER_CACHE_SECONDS", 0))
        if seconds <= 0:
            return None
        cache = current_app.extensions.setdefault("paydash_user_cache", SignedInUserCache(seconds))
    return cache


def _signed_in_user(user_id: int, password_tail: str | None) -> SignedInUser | None:
    """The user if they exist, are active and the session was opened with their current password."""
    row = accounts.session_user(user_id)
    if row is None or not row.active or password_tail != row.password_hash[-12:]:
        return None
    return SignedInUser(row.id, row.tenant_id, row.email, row.name, row.role, row.active)


def load_user() -> None:
    """Before each request: put the signed-in, active user (or None) on `g.user`.

    The user is read from the database at most once per `USER_CACHE_SECONDS` per process;
    see `SignedInUserCache` for when a change to the user is seen.
    """
    g.user = None
    user_id = session.get("user_id")
    if user_id is None:
        return
    key = (user_id, session.get("pw"))
    cache = user_cache()
    if cache is None:
        g.user = _signed_in_user(*key)
        return
    user = cache.get(key)
    if user is None:
        generation = cache.generation
        user = _signed_in_user(*key)
        if user is not None:
            cache.put(key, user, generation)
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
        wrapped.allowed_roles = frozenset(roles)  # Read by `may_open` for menus and links.
        return wrapped
    return decorator


def may_open(endpoint: str) -> bool:
    """Whether the signed-in user may open a page: by the same roles its view enforces."""
    view = current_app.view_functions.get(endpoint)
    roles = getattr(view, "allowed_roles", None)
    return (view is not None and g.get("user") is not None
            and (roles is None or g.user.role in roles))


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
