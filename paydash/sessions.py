"""Server-side sessions: one `UserSession` row per signed-in browser.

The signed cookie carries a random token; the row's id is the token's sha256, so a copy
of the table signs nobody in. A request is signed in only while its row exists, the user
is active, the session was used within `SESSION_IDLE_SECONDS` and opened less than
`SESSION_MAX_SECONDS` ago. Ending a session is deleting its row: it ends at once, in
every process.
"""
import collections
import dataclasses
import datetime as dt
import hashlib
import secrets
import weakref

import sqlalchemy as sa

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.models import Tenant
from paydash.models import User
from paydash.models import UserSession

# last_seen_at is written at most this often per session: not a write on every request.
TOUCH_EVERY = dt.timedelta(seconds=60)
_S = UserSession.__table__.c
_U = User.__table__.c
_T = Tenant.__table__.c
# One primary-key lookup per signed-in request, in Core (the ORM's identity map costs more).
_CHECK = (sa.select(_U.id, _U.tenant_id, _U.email, _U.name, _U.role, _U.active,
                    _U.totp_secret.is_not(None).label("two_step_on"),
                    sa.func.coalesce(_T.require_two_step, False).label("tenant_requires_two_step"),
                    _S.created_at, _S.last_seen_at, _S.two_step_done)
          .join_from(UserSession.__table__, User.__table__, _S.user_id == _U.id)
          .outerjoin(Tenant.__table__, _T.id == _U.tenant_id)
          .where(_S.id == sa.bindparam("sid")))


@dataclasses.dataclass(frozen=True)
class Limits:
    idle: dt.timedelta
    longest: dt.timedelta


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(user_id: int, *, ip: str | None, user_agent: str | None,
                 two_step_done: bool = True) -> str:
    """Add a session for the user (committed by the caller); returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(UserSession(id=session_id(token), user_id=user_id, created_at=now,
                               last_seen_at=now, ip=(ip or "")[:64],
                               user_agent=(user_agent or "")[:200], two_step_done=two_step_done))
    return token


def check(token: str | None, limits: Limits) -> sa.Row | None:
    """The signed-in user's columns (and the session's) for a live session, else None.

    An expired session's row is deleted here; a live one's last_seen_at is moved on at
    most once per TOUCH_EVERY.
    """
    if not token or not isinstance(token, str):
        return None
    sid = session_id(token)
    row = _read(sid)
    if row is None:
        return None
    now = utcnow()
    expired = (not row.active or now - row.last_seen_at > limits.idle
               or now - row.created_at > limits.longest)
    if expired or now - row.last_seen_at > TOUCH_EVERY:
        with db.engine.begin() as conn:
            if expired:
                conn.execute(sa.delete(UserSession.__table__).where(_S.id == sid))
            else:
                conn.execute(sa.update(UserSession.__table__).where(_S.id == sid)
                             .values(last_seen_at=now))
    return None if expired else row


# The check's SQL compiled once per dialect: it runs on every signed-in request, so it goes
# straight to the DBAPI cursor (half the CPU of SQLAlchemy's execution layer) and opens no
# ORM transaction.
_CHECK_SQL: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_Row = collections.namedtuple("_Row", [c.name for c in _CHECK.selected_columns])


def _read(sid: str):
    engine = db.engine
    compiled = _CHECK_SQL.get(engine.dialect)
    if compiled is None:
        compiled = _CHECK_SQL[engine.dialect] = _CHECK.compile(dialect=engine.dialect)
    params = compiled.construct_params({"sid": sid})
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup)
    dbapi_error = engine.dialect.loaded_dbapi.Error
    connection = None
    try:
        connection = engine.raw_connection()  # The pool does not wrap a failed connect.
        cursor = connection.cursor()
        try:
            cursor.execute(str(compiled), params)
            found = cursor.fetchone()
        finally:
            cursor.close()
    except dbapi_error as exc:
        # Raised as SQLAlchemy would, so a database outage answers 503 (web/errors.py), not
        # 500; a broken connection is not handed to the next request.
        if connection is not None:
            connection.invalidate(exc)
        raise sa.exc.DBAPIError.instance(str(compiled), params, exc, dbapi_error) from exc
    finally:  # The pool ends any transaction the DBAPI began (rollback on return).
        if connection is not None:
            connection.close()
    if found is None:
        return None
    row = _Row(*found)
    # The DBAPI gives SQLite's timestamps as text; the ORM layer would have parsed them.
    if isinstance(row.created_at, str):
        row = row._replace(created_at=dt.datetime.fromisoformat(row.created_at),
                           last_seen_at=dt.datetime.fromisoformat(row.last_seen_at))
    return row


def finish_two_step(token: str) -> None:
    db.session.execute(sa.update(UserSession).where(UserSession.id == session_id(token))
                       .values(two_step_done=True))


def end(token: str | None) -> None:
    """End one session (sign-out); committed by the caller."""
    if token:
        db.session.execute(sa.delete(UserSession).where(UserSession.id == session_id(token)))


def end_all(user_id: int, *, keep_token: str | None = None) -> int:
    """End every session of the user, but the one of `keep_token`; committed by the caller."""
    stmt = sa.delete(UserSession).where(UserSession.user_id == user_id)
    if keep_token:
        stmt = stmt.where(UserSession.id != session_id(keep_token))
    return db.session.execute(stmt).rowcount or 0


def of_user(user_id: int) -> list[UserSession]:
    return list(db.session.scalars(sa.select(UserSession).where(UserSession.user_id == user_id)
                                   .order_by(UserSession.last_seen_at.desc())))


def prune_expired(limits: Limits, now: dt.datetime | None = None) -> int:
    """Delete sessions past their idle or absolute limit (browsers closed and never back)."""
    now = now or utcnow()
    return db.session.execute(sa.delete(UserSession).where(sa.or_(
        UserSession.last_seen_at < now - limits.idle,
        UserSession.created_at < now - limits.longest))).rowcount or 0
