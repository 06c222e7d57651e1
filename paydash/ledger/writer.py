"""Write-behind for the ledger's routine transitions: claims and successes, in batches.

Most attempts start, do work that needs no fencing, and succeed. Writing their claim and
their success one transaction at a time made the ledger cost a worker more than the
task itself (see BENCHMARKS.md, "Ledger cost"), so a consumer process keeps them in a
list and one thread writes them every `LEDGER_FLUSH_SECONDS` (or as soon as
`LEDGER_FLUSH_BATCH` are waiting), as one conditional statement per batch on PostgreSQL.

What stays synchronous, and why that keeps "no job lost" and "one effect per job":
- An attempt is made *durable* before it reports progress or writes an effect: the
  first `jobs.checkpoint`, `jobs.fence` or `jobs.claim_now` writes its claim and refuses
  to go on if the claim was refused. Its outcome is then written before the hook returns
  (a success by `succeed_at_once`, a failure by the synchronous path). Every Paydash task
  with an effect checkpoints first. The attempt's own thread writes both, one statement
  each (the update and its event), on a connection the thread keeps (`_own_connection`):
  the claim waits for nothing else, and no other thread waits for it.
- Those two commit asynchronously, as the batches do. For the claim that is safe because
  whatever the attempt changes afterwards commits synchronously on the same server: the
  WAL is flushed in order, so once an effect's commit returns, the claim before it is on
  disk too (and the effect's fence updates the claimed row in its own transaction). An
  effect made *outside* PostgreSQL (Redis, a file, mail, HTTP) is covered only when a
  synchronous PostgreSQL commit comes between the claim and it: Paydash's are (a chart
  sync is enqueued after the commit of its job row; an alert is sent after the commit
  that claims its delivery row). A task that wrote to Redis right after `claim_now`
  could lose its claim in a database crash (up to 3 × `wal_writer_delay`) and run again.
- Failures, retries and interruptions are written synchronously.
- Periodic tasks claim their slot synchronously.
So a crash can lose only the written-behind claim and success of attempts that changed
nothing. Such a job is left PENDING (or STARTED on a dead worker) and recovery runs it
again, which is harmless because it changed nothing.

A claim is still conditional: when the batch's update refuses one (a duplicate
delivery, a paused task, a job the ledger never saw), that attempt goes through the
synchronous path's own explanation (see `jobs.settle_refused`).
"""
import atexit
import json
import logging
import os
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa

from paydash.ledger.models import Job
from paydash.ledger.models import JobEvent
from paydash.ledger.models import JobState
from paydash.ledger.models import PausedTask

logger = logging.getLogger(__name__)

STARTED, SUCCESS = JobState.STARTED.value, JobState.SUCCESS.value
CLAIMABLE = (JobState.PENDING.value, JobState.RETRY.value)


class Attempt:
    """One attempt written behind: its claim, and its success once the task returns."""

    __slots__ = ("task", "writer", "started_at", "finish", "queued", "written", "claimed",
                 "durable")

    def __init__(self, task, writer: "LedgerWriter", started_at):
        self.task = task
        self.writer = writer
        self.started_at = started_at
        self.finish: tuple | None = None  # (finished_at, runtime_seconds, result JSON text)
        self.queued = True      # in the writer's pending list
        self.written = False    # the claim has been tried in the database
        self.claimed = None     # ... and was accepted (True) or refused (False)
        self.durable = False    # the task asked for its claim: its outcome is written at once


def _key(attempt: "Attempt") -> tuple:
    return (attempt.task.id, attempt.started_at)


def result_summary(value) -> dict | None:
    """What the ledger keeps of a task's return value: a dict as it is, anything else wrapped."""
    return value if isinstance(value, dict) else ({"value": value} if value is not None else None)


def _result_json(value) -> str | None:
    summary = result_summary(value)
    if summary is None:
        return None
    try:
        return json.dumps(summary)
    except (TypeError, ValueError):
        return json.dumps({"value": repr(value)[:2000]})


class LedgerWriter:
    """Per consumer process: pending attempts and the thread that writes them."""

    def __init__(self, engine: sa.Engine, worker: str, on_refused: Callable,
                 interval: float = 0.05, batch: int = 500, paused_ttl: float = 1.0):
        self.engine = engine
        self.worker = worker
        self.on_refused = on_refused
        self.interval = interval
        self.batch = batch
        self.paused_ttl = paused_ttl
        self.pid = os.getpid()
        self.healthy = True
        self._pending: list[Attempt] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.RLock()
        self._wake = threading.Event()
        self._closed = False
        self._paused: tuple[frozenset, float] = (frozenset(), float("-inf"))
        self._postgres = engine.dialect.name == "postgresql"
        self._conn: sa.Connection | None = None
        self._own = threading.local()  # Each worker thread's connection (`_own_connection`).
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    # --- Called by worker threads ---------------------------------------------------------

    def accepts(self, task_name: str) -> bool:
        """Write this task's claim behind? Not while closed, failing or the task is paused."""
        return (not self._closed and self.healthy and self.pid == os.getpid()
                and not self.is_paused(task_name))

    def is_paused(self, task_name: str) -> bool:
        """The paused task names, read at most every `paused_ttl` seconds.

        The batch's claim checks the table again, so a pause that lands in between is
        still honoured: that claim is refused and the job rescheduled.
        """
        names, read_at = self._paused
        if time.monotonic() - read_at > self.paused_ttl:
            with self.engine.connect() as conn:
                names = frozenset(conn.scalars(sa.select(PausedTask.task_name)))
            self._paused = (names, time.monotonic())
        return task_name in names

    def start(self, task, started_at) -> Attempt:
        attempt = Attempt(task, self, started_at)
        with self._lock:
            self._pending.append(attempt)
            full = len(self._pending) >= self.batch
        if full:
            self._wake.set()
        return attempt

    def succeed(self, attempt: Attempt, finished_at, runtime: float | None, value) -> None:
        result = _result_json(value)
        with self._lock:
            attempt.finish = (finished_at, runtime, result)
            if not attempt.queued:
                attempt.queued = True
                self._pending.append(attempt)
        if self._closed:
            self.flush()

    def settle(self, attempt: Attempt) -> bool:
        """Write the attempt's claim now; True if it was accepted.

        A claim still waiting in the list is taken out of it and written by the calling
        thread alone, in one round trip on that thread's own connection (`_own_connection`),
        so an attempt about to change something waits for its claim and nothing else. A
        claim a batch is already writing is waited for (`flush` holds the lock until the
        batch is written). A refused claim is settled as a refused batch claim is.
        """
        if attempt.written:
            return bool(attempt.claimed)
        if not self._take(attempt):
            self.flush()
            return bool(attempt.claimed)
        try:
            accepted = self._claim_at_once(attempt)
        except Exception:
            self.healthy = False
            self._put_back(attempt)  # The writer's thread tries it again with its batch.
            raise
        self.healthy = True
        attempt.written = True
        attempt.claimed = accepted
        if not accepted:
            self._settle_refused(attempt, None)
        return bool(attempt.claimed)

    def succeed_at_once(self, attempt: Attempt, finished_at, runtime: float | None, value) -> None:
        """A durable attempt's success, written before this returns, by the calling thread.

        One conditional statement (this attempt's row, still STARTED by it) with its event,
        on the thread's own connection. If the database refuses it, the success waits in
        the list and the writer's thread writes it once it can; the error is raised.
        """
        finish = (finished_at, runtime, _result_json(value))
        try:
            tenant = self._success_at_once(attempt, finish)
        except Exception:
            with self._lock:
                attempt.finish = finish
                if not attempt.queued:
                    attempt.queued = True
                    self._pending.append(attempt)
            raise
        if tenant is None:
            logger.info("job %s: finished, but the job had been taken over", attempt.task.id)
        else:  # Logged like the synchronous path's outcomes.
            logger.info("job %s tenant %s: SUCCESS", attempt.task.id, tenant[0])

    def _take(self, attempt: Attempt) -> bool:
        """Take a claim that waits alone (no success yet) out of the list; False if a batch has it."""
        with self._lock:
            if not attempt.queued or attempt.written or attempt.finish is not None:
                return False
            pending = self._pending
            for n in range(len(pending) - 1, -1, -1):  # Most likely among the latest.
                if pending[n] is attempt:
                    del pending[n]
                    attempt.queued = False
                    return True
            return False

    def _put_back(self, attempt: Attempt) -> None:
        with self._lock:
            if not attempt.queued:
                attempt.queued = True
                self._pending.append(attempt)

    def _settle_refused(self, attempt: Attempt, finish: tuple | None) -> None:
        try:
            self.on_refused(attempt, finish)
        except Exception:  # The batch is written; one refusal must not stop the rest.
            logger.exception("job %s: settling its refused claim failed; recovery "
                             "will look at it", attempt.task.id)

    def flush(self) -> None:
        """Write everything waiting, in one transaction; raises if the database refused it."""
        with self._flush_lock:
            with self._lock:
                batch = [(attempt, attempt.finish) for attempt in self._pending]
                for attempt in self._pending:
                    attempt.queued = False
                self._pending = []
            if not batch:
                return
            try:
                refused = self._write(batch)
            except Exception:
                self.healthy = False
                with self._lock:
                    for attempt, _ in batch:
                        if not attempt.queued:
                            attempt.queued = True
                            self._pending.append(attempt)
                raise
            self.healthy = True
            for attempt, finish in refused:
                self._settle_refused(attempt, finish)

    def close(self) -> None:
        """Write what is waiting and stop the thread; later successes are written at once."""
        self._closed = True
        self._wake.set()
        try:
            self.flush()
        except Exception:
            logger.exception("ledger: could not write %s waiting transitions at shutdown",
                             len(self._pending))
        with self._flush_lock:
            self._drop_connection()
        self._drop_own_connection()

    # --- The writing thread ----------------------------------------------------------------

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                logger.exception("ledger: writing %s transitions failed; retrying in 1 s",
                                 len(self._pending))
                time.sleep(1.0)

    def _write(self, batch: list[tuple[Attempt, tuple | None]]) -> list:
        """The claims (with their success when already known), then the successes of
        attempts claimed earlier. Returns the refused claims."""
        claims = [(a, f) for a, f in batch if not a.written]
        successes = [(a, f) for a, f in batch if a.written and a.claimed and f is not None]
        if self._postgres:
            # One statement, so one transaction, on a connection the writer keeps.
            try:
                accepted, done = self._write_pg(self._pg_connection(), claims, successes)
            except Exception:
                self._drop_connection()
                raise
        else:
            with self.engine.begin() as conn:
                accepted = {key for a, f in claims if (key := self._claim_one(conn, a, f))}
                done = dict(filter(None, (self._succeed_one(conn, a, f) for a, f in successes)))
        refused = []
        for attempt, finish in claims:
            attempt.written = True
            attempt.claimed = _key(attempt) in accepted
            if not attempt.claimed:
                refused.append((attempt, finish))
        for attempt, _ in successes:
            if _key(attempt) not in done:
                logger.info("job %s: finished, but the job had been taken over", attempt.task.id)
            elif attempt.durable:  # Logged like the synchronous path's outcomes.
                logger.info("job %s tenant %s: SUCCESS", attempt.task.id, done[_key(attempt)])
        return refused

    # PostgreSQL: one statement for the whole batch, JSON in, rows out.

    def _pg_connection(self) -> sa.Connection:
        """The writer's own connection: autocommit, so a batch costs one round trip.

        Commits are asynchronous (as in `jobs.ledger_connection`): these attempts changed
        nothing, so losing the WAL's last milliseconds in a crash only means running them
        again. Kept out of the pool: no checkout, no pre-ping per batch.
        """
        if self._conn is None:
            self._conn = _async_autocommit(self.engine)
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        _discard(conn)

    def _write_pg(self, conn: sa.Connection, claims: list, successes: list) -> tuple[set, dict]:
        # The batch goes as two JSON documents: psycopg's array adaptation cost more CPU
        # per row (in the worker, under its GIL) than the database spent on the row.
        claim_rows = [{"n": n, "id": a.task.id, "task_name": a.task.name,
                       "started_at": a.started_at.isoformat(),
                       "finished_at": f[0].isoformat() if f else None,
                       "runtime": f[1] if f else None, "result": f[2] if f else None}
                      for n, (a, f) in enumerate(claims)]
        success_rows = [{"n": n, "id": a.task.id, "started_at": a.started_at.isoformat(),
                         "finished_at": f[0].isoformat(), "runtime": f[1], "result": f[2]}
                        for n, (a, f) in enumerate(successes)]
        # Straight on psycopg's cursor: SQLAlchemy's execution layer cost more than the call.
        with conn.connection.dbapi_connection.cursor() as cursor:
            cursor.execute(_PG_WRITE, {"claims": json.dumps(claim_rows),
                                       "claim_count": len(claim_rows),
                                       "successes": json.dumps(success_rows),
                                       "success_count": len(success_rows),
                                       "worker": self.worker})
            rows = cursor.fetchall()
        accepted = {_key(claims[n][0]) for kind, n, _ in rows if kind == "claim"}
        done = {_key(successes[n][0]): tenant for kind, n, tenant in rows if kind == "success"}
        return accepted, done

    # A durable attempt's own writes: its thread's connection, one statement each.

    def _own_connection(self) -> sa.Connection:
        """The calling thread's connection for its durable attempts' claims and successes.

        Autocommit, with asynchronous commit (see `_pg_connection`, and the module's notes
        on why a durable claim may commit so: every effect commits synchronously after it
        on the same server, and the WAL is flushed in order). Detached from the pool, so
        it does not take a place the thread's task session counts on; it is kept for the
        thread's next attempt (its statements prepared by then), and dropped on an error.
        """
        conn = getattr(self._own, "conn", None)
        if conn is None:
            conn = self._own.conn = _async_autocommit(self.engine, detach=True)
        return conn

    def _drop_own_connection(self) -> None:
        conn, self._own.conn, self._own.cursor = getattr(self._own, "conn", None), None, None
        _discard(conn)

    def _own_statement(self, statement: str, params: dict) -> tuple | None:
        """Run one statement on the thread's connection; its one row, or None.

        Straight on psycopg's cursor, kept with the connection: making a cursor cost
        about as much as the rest of the call.
        """
        try:
            cursor = getattr(self._own, "cursor", None)
            if cursor is None:
                cursor = self._own.cursor = self._own_connection().connection.dbapi_connection.cursor()
            cursor.execute(statement, params)
            return cursor.fetchone()
        except Exception:
            self._drop_own_connection()
            raise

    def _claim_at_once(self, attempt: Attempt) -> bool:
        task = attempt.task
        if self._postgres:
            return self._own_statement(_PG_CLAIM_ONE, {
                "id": task.id, "task_name": task.name, "started_at": attempt.started_at,
                "worker": self.worker}) is not None
        with self.engine.begin() as conn:
            return self._claim_one(conn, attempt, None) is not None

    def _success_at_once(self, attempt: Attempt, finish: tuple) -> tuple | None:
        """(the job's tenant,), or None if the job was taken over."""
        if self._postgres:
            finished_at, runtime, result = finish
            return self._own_statement(_PG_SUCCEED_ONE, {
                "id": attempt.task.id, "started_at": attempt.started_at, "finished_at": finished_at,
                "runtime": runtime, "result": result, "worker": self.worker})
        with self.engine.begin() as conn:
            done = self._succeed_one(conn, attempt, finish)
        return None if done is None else (done[1],)

    # SQLite (in-process, no round trips): the same statements row by row, one transaction.

    def _claim_one(self, conn: sa.Connection, attempt: Attempt, finish: tuple | None):
        task = attempt.task
        row = conn.execute(CLAIM, {"job_id": task.id, "paused_name": task.name,
                                   "now": attempt.started_at, "worker": self.worker}).first()
        if row is None:
            return None
        conn.execute(ADD_EVENT, {"job_id": task.id, "state": STARTED, "worker_id": self.worker,
                                 "message": f"attempt {row.attempts} started", "at": attempt.started_at})
        if finish is not None:
            self._succeed_one(conn, attempt, finish)
        return _key(attempt)

    def _succeed_one(self, conn: sa.Connection, attempt: Attempt, finish: tuple) -> tuple | None:
        """(the attempt's key, the job's tenant), or None if the job was taken over."""
        finished_at, runtime, result = finish
        done = conn.execute(_SUCCEED_ONE, {
            "job_id": attempt.task.id, "started": attempt.started_at, "finished": finished_at,
            "runtime": runtime, "result": json.loads(result) if result else None}).first()
        if done is None:
            return None
        conn.execute(ADD_EVENT, {"job_id": attempt.task.id, "state": SUCCESS, "message": "done",
                                 "worker_id": self.worker, "at": finished_at})
        return _key(attempt), done.tenant_id


_job, _event = Job.__table__, JobEvent.__table__

# The one claim statement, built once (building a statement costs more than running it):
# the synchronous path (`jobs.claim`) and SQLite batches both run it.
CLAIM = (
    sa.update(_job)
    .where(_job.c.id == sa.bindparam("job_id"), _job.c.state.in_(CLAIMABLE),
           ~sa.exists().where(PausedTask.task_name == sa.bindparam("paused_name")))
    .values(state=STARTED, started_at=sa.bindparam("now"), heartbeat_at=sa.bindparam("now"),
            worker_id=sa.bindparam("worker"), attempts=_job.c.attempts + 1, finished_at=None,
            progress_done=0, progress_message=None)
    .returning(_job.c.started_at, _job.c.attempts, _job.c.tenant_id)
)
_SUCCEED_ONE = (
    sa.update(_job)
    .where(_job.c.id == sa.bindparam("job_id"), _job.c.state == STARTED,
           _job.c.started_at == sa.bindparam("started"))
    .values(state=SUCCESS, finished_at=sa.bindparam("finished"),
            heartbeat_at=sa.bindparam("finished"), runtime_seconds=sa.bindparam("runtime"),
            result=sa.bindparam("result", type_=_job.c.result.type), error=None)
    .returning(_job.c.tenant_id)
)
ADD_EVENT = sa.insert(_event)

# `LIMIT %(..._count)s` tells the planner how many rows the JSON holds: it guesses 100 for
# json_to_recordset, and with that guess it updated successes through a bitmap scan of every
# STARTED entry in ix_job_state_created, dead ones included, instead of by primary key; the
# statement then slowed as the table's dead tuples grew until autovacuum ran (BENCHMARKS.md).
#
# One statement for a whole batch: the claims (with the success when the task has already
# returned) and the successes of attempts claimed by an earlier batch, with the timeline's
# events. Rows come back by their place in the batch (n), which keeps two deliveries of one
# job apart. A job is
# touched by at most one of the two updates: a claim needs it PENDING or RETRY, a success
# needs it STARTED by that attempt.
_PG_WRITE = f"""
WITH c AS (
    SELECT * FROM json_to_recordset(CAST(%(claims)s AS json))
        AS c(n int, id varchar, task_name varchar, started_at timestamp, finished_at timestamp,
             runtime float8, result text)
    LIMIT %(claim_count)s
), claimed AS (
    UPDATE {_job.name} AS j SET
        state = CASE WHEN c.finished_at IS NULL THEN '{STARTED}' ELSE '{SUCCESS}' END,
        started_at = c.started_at,
        heartbeat_at = coalesce(c.finished_at, c.started_at),
        worker_id = %(worker)s,
        attempts = j.attempts + 1,
        finished_at = c.finished_at,
        progress_done = 0,
        progress_message = NULL,
        runtime_seconds = CASE WHEN c.finished_at IS NULL THEN j.runtime_seconds ELSE c.runtime END,
        result = CASE WHEN c.finished_at IS NULL THEN j.result ELSE CAST(c.result AS json) END,
        error = CASE WHEN c.finished_at IS NULL THEN j.error END
    FROM c
    WHERE j.id = c.id AND j.state IN ('{CLAIMABLE[0]}', '{CLAIMABLE[1]}')
      AND NOT EXISTS (SELECT 1 FROM {PausedTask.__table__.name} p WHERE p.task_name = c.task_name)
    RETURNING c.n, j.id, j.attempts, c.started_at, c.finished_at
), s AS (
    SELECT * FROM json_to_recordset(CAST(%(successes)s AS json))
        AS s(n int, id varchar, started_at timestamp, finished_at timestamp, runtime float8,
             result text)
    LIMIT %(success_count)s
), succeeded AS (
    UPDATE {_job.name} AS j SET
        state = '{SUCCESS}', finished_at = s.finished_at, heartbeat_at = s.finished_at,
        runtime_seconds = s.runtime, result = CAST(s.result AS json), error = NULL
    FROM s
    WHERE j.id = s.id AND j.state = '{STARTED}' AND j.started_at = s.started_at
    RETURNING s.n, j.id, s.finished_at, j.tenant_id
), events AS (
    INSERT INTO {_event.name} (job_id, at, state, worker_id, message)
    SELECT id, started_at, '{STARTED}', %(worker)s, 'attempt ' || attempts || ' started' FROM claimed
    UNION ALL
    SELECT id, finished_at, '{SUCCESS}', %(worker)s, 'done' FROM claimed WHERE finished_at IS NOT NULL
    UNION ALL
    SELECT id, finished_at, '{SUCCESS}', %(worker)s, 'done' FROM succeeded
)
SELECT 'claim' AS kind, n, NULL::int AS tenant_id FROM claimed
UNION ALL
SELECT 'success' AS kind, n, tenant_id FROM succeeded
"""

# A durable attempt's claim, and its success, written alone by its own thread: the batch's
# two updates for one row, each with its event, in one round trip. The same columns as the
# batch statement above writes for a claim without a success, and for a success.
_PG_CLAIM_ONE = f"""
WITH claimed AS (
    UPDATE {_job.name} AS j SET
        state = '{STARTED}', started_at = %(started_at)s, heartbeat_at = %(started_at)s,
        worker_id = %(worker)s, attempts = j.attempts + 1, finished_at = NULL,
        progress_done = 0, progress_message = NULL
    WHERE j.id = %(id)s AND j.state IN ('{CLAIMABLE[0]}', '{CLAIMABLE[1]}')
      AND NOT EXISTS (SELECT 1 FROM {PausedTask.__table__.name} p WHERE p.task_name = %(task_name)s)
    RETURNING j.id, j.attempts
), events AS (
    INSERT INTO {_event.name} (job_id, at, state, worker_id, message)
    SELECT id, %(started_at)s, '{STARTED}', %(worker)s, 'attempt ' || attempts || ' started'
    FROM claimed
)
SELECT attempts FROM claimed
"""
_PG_SUCCEED_ONE = f"""
WITH succeeded AS (
    UPDATE {_job.name} AS j SET
        state = '{SUCCESS}', finished_at = %(finished_at)s, heartbeat_at = %(finished_at)s,
        runtime_seconds = %(runtime)s, result = CAST(%(result)s AS json), error = NULL
    WHERE j.id = %(id)s AND j.state = '{STARTED}' AND j.started_at = %(started_at)s
    RETURNING j.id, j.tenant_id
), events AS (
    INSERT INTO {_event.name} (job_id, at, state, worker_id, message)
    SELECT id, %(finished_at)s, '{SUCCESS}', %(worker)s, 'done' FROM succeeded
)
SELECT tenant_id FROM succeeded
"""


# --- One writer per consumer process ----------------------------------------------------

_writer: LedgerWriter | None = None
_writer_lock = threading.Lock()


def current() -> LedgerWriter | None:
    """This process's writer, or None (not started, or inherited across a fork)."""
    writer = _writer
    if writer is None or writer.pid != os.getpid():
        return None
    return writer


def start(engine: sa.Engine, worker: str, on_refused: Callable, interval: float,
          batch: int) -> LedgerWriter:
    """Start this process's writer once (every worker thread's startup hook calls this)."""
    global _writer
    with _writer_lock:
        if current() is None:
            _writer = LedgerWriter(engine, worker, on_refused, interval=interval, batch=batch)
            atexit.register(_writer.close)
        return _writer


def stop() -> None:
    writer = current()
    if writer is not None:
        writer.close()


def attempt_of(task) -> Attempt | None:
    return getattr(task, "ledger_attempt", None)


def make_durable(task) -> bool:
    """Before progress or an effect: write the attempt's claim; False if it was refused.

    From then on the attempt's outcome is written synchronously (see the module's notes).
    Attempts claimed synchronously are durable already.
    """
    attempt = attempt_of(task)
    if attempt is None or attempt.durable:
        return attempt is None or bool(attempt.claimed)
    attempt.durable = True
    return attempt.writer.settle(attempt)


def _async_autocommit(engine: sa.Engine, *, detach: bool = False) -> sa.Connection:
    """A connection in autocommit with asynchronous commit; detached from the pool if asked."""
    conn = engine.connect()
    try:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("SET synchronous_commit = off")
        if detach:
            conn.detach()
    except Exception:
        conn.close()
        raise
    return conn


def _discard(conn: sa.Connection | None) -> None:
    """Close a connection that failed, never raising from the close."""
    if conn is not None:
        try:
            conn.invalidate()
            conn.close()
        except Exception:
            logger.debug("ledger: closing a broken connection failed", exc_info=True)
