"""The database's clock: the one every lease decision is made on.

Heartbeats, claims and lease expiry were stamped with each host's own clock, so a worker
host a minute behind looked dead to the others and its live jobs were taken over. Every
timestamp the ledger writes or compares comes from here instead: this host's clock plus
its measured offset from the database's (`SELECT clock_timestamp()` on PostgreSQL; the
file's host clock on SQLite), re-measured every RESYNC_SECONDS by whichever caller has an
app context (the heartbeat thread does every interval). Between two measurements only
drift separates the two, which is milliseconds; a host's clock stepped by NTP is caught by
the next measurement.
"""
import datetime as dt
import logging
import threading
import time

import sqlalchemy as sa
from flask import has_app_context

from paydash import clock
from paydash.extensions import db

logger = logging.getLogger(__name__)

RESYNC_SECONDS = 15.0

_offset = dt.timedelta(0)
_tried_at = float("-inf")
_lock = threading.Lock()

_QUERIES = {
    "postgresql": "SELECT clock_timestamp() AT TIME ZONE 'UTC'",
    "sqlite": "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')",
}


def utcnow() -> dt.datetime:
    """Naive UTC now, on the database's clock (as far as this process last measured it)."""
    if time.monotonic() - _tried_at > RESYNC_SECONDS and has_app_context():
        _try_to_measure()
    return clock.utcnow() + _offset


def offset() -> dt.timedelta:
    """The database's clock minus this host's, as last measured."""
    return _offset


def measure(conn: sa.Connection) -> dt.timedelta:
    """Measure the offset on `conn` and keep it; returns it."""
    global _offset
    query = _QUERIES.get(conn.dialect.name)
    if query is None:
        return _offset
    before = clock.utcnow()
    value = conn.exec_driver_sql(query).scalar()
    after = clock.utcnow()
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    _offset = value - (before + (after - before) / 2)
    return _offset


def forget() -> None:
    """Measure again at the next call (tests; a clock known to have jumped)."""
    global _tried_at
    _tried_at = float("-inf")


def _try_to_measure() -> None:
    global _tried_at
    if not _lock.acquire(blocking=False):
        return  # Another thread is measuring; the last offset serves meanwhile.
    try:
        _tried_at = time.monotonic()
        if db.engine.url.database in (None, "", ":memory:"):
            return  # One shared in-memory connection: never borrow it (nor its transaction).
        with db.engine.connect() as conn:
            measure(conn)
    except Exception as exc:  # The database is away: keep the last offset.
        logger.debug("could not read the database's clock (%s)", exc)
    finally:
        _lock.release()
