"""Diagnostic tasks for tests and benchmarks: a no-op, and a probe whose effects are counted.

`noop` measures the ledger's own cost. `diagnostic_probe(key, seconds)` stands in for a
real job in fault injection: it works for `seconds`, then records its effect. The effect
is one row per key, upserted, so a probe delivered twice has one effect; the row also
counts the executions that reached the effect, so duplicates are measured rather than
hidden by the upsert. The row lives in a table of its own, created on first use and
outside the app's models and migrations.
"""
import logging
import time

import sqlalchemy as sa

from paydash.broker import task
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.extensions import upsert_insert
from paydash.ledger import jobs
from paydash.ledger.models import Job
from paydash.ledger.queue import PRIORITIES

logger = logging.getLogger(__name__)

PROBE_STEP_SECONDS = 0.2

probe_metadata = sa.MetaData()
probe_effect = sa.Table(
    "diagnostic_probe_effect", probe_metadata,
    sa.Column("key", sa.String(120), primary_key=True),
    sa.Column("job_id", sa.String(36)),
    sa.Column("executions", sa.Integer, nullable=False, default=1),
    sa.Column("first_at", sa.DateTime),
    sa.Column("last_at", sa.DateTime),
)


@task(priority=PRIORITIES["maintenance"])
def noop(seconds: float = 0, durable: bool = False) -> dict:
    """Do nothing (or sleep `seconds`, at most 60): the ledger's cost, measured alone.

    `durable`: write the claim first, as a task with an effect does (see paydash.ledger.writer).
    """
    if durable:
        jobs.claim_now()
    if seconds:
        time.sleep(min(float(seconds), 60.0))
    return {"slept": seconds}


@task(retries=2, retry_delay=0, priority=PRIORITIES["maintenance"])
def diagnostic_probe(key: str, seconds: float = 2.0, slow_attempts: int = 99,
                     checkpoints: bool = True) -> dict:
    """Work `seconds` (in the first `slow_attempts` attempts only), then record the effect.

    With `checkpoints` the wait is sliced by `jobs.checkpoint`, so thread workers notice
    their deadline; without, only Huey's timeout (process workers) can stop it.
    """
    jobs.claim_now()  # The probe has an effect, and reads its attempt number from the ledger.
    current = jobs.current_task()
    attempt = db.session.get(Job, current.id).attempts if current is not None else 1
    wait = float(seconds) if attempt <= slow_attempts else 0.0
    if checkpoints:
        steps = max(1, int(wait / PROBE_STEP_SECONDS))
        for step in range(steps):
            jobs.checkpoint(step, steps, "Probing")
            time.sleep(wait / steps)
        jobs.checkpoint(steps, steps, "Probing", force=True)
    else:
        time.sleep(wait)
    record_probe_effect(key)
    return {"key": key, "attempt": attempt, "slept": wait}


def ensure_probe_table() -> None:
    """Create the probe's table if missing (safe to call from several processes)."""
    try:
        probe_metadata.create_all(db.engine, checkfirst=True)
    except sa.exc.DatabaseError:
        # Another process created it between our check and our CREATE.
        logger.info("probe table created concurrently")


def record_probe_effect(key: str) -> None:
    """Upsert the key's effect row and count this execution, fenced by the job's claim."""
    ensure_probe_table()
    insert = upsert_insert()
    now = utcnow()
    current = jobs.current_task()
    statement = insert(probe_effect).values(
        key=key, job_id=current.id if current else None, executions=1, first_at=now, last_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=["key"],
        set_={"executions": probe_effect.c.executions + 1, "last_at": now})
    # The fence and the effect commit together: an attempt that lost its job adds nothing.
    jobs.fence()
    db.session.execute(statement)
    db.session.commit()


def probe_counts() -> dict:
    """{"effects": distinct keys recorded, "executions": committed runs} (in an app context)."""
    ensure_probe_table()
    db.session.expire_all()
    effects, executions = db.session.execute(sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(probe_effect.c.executions), 0))).one()
    return {"effects": int(effects), "executions": int(executions)}
