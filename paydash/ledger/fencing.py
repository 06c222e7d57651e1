"""The fence, as part of how a task commits: no task can forget it.

A task's effects commit only while its attempt still owns the job. Calling `jobs.fence()`
before each commit was left to each task, and the chart sync forgot it: an attempt that
was taken over (its host cut off, then back) still committed an older aggregation over a
newer one. So every commit of a session made while a task's body runs in this thread
(`task_body()`, entered by every task the bridge makes) is fenced first (`before_commit`):
one UPDATE that matches only this attempt locks the job row in the same transaction, and
LeaseLost is raised when the job is no longer ours, so the commit does not happen.
Recovery's takeover updates the same row, so the two serialise on its lock: whichever
commits second sees the other's change.

The ledger's own bookkeeping inside an attempt (settling a refused claim) is not an
effect and runs under `bookkeeping()`.
"""
import contextlib
import threading

from sqlalchemy import event
from sqlalchemy.orm import Session

from paydash.ledger import attempt

_state = threading.local()
_installed = False


@contextlib.contextmanager
def task_body():
    """A task's own code runs here: each commit it makes is fenced."""
    previous = getattr(_state, "body", False)
    _state.body = True
    try:
        yield
    finally:
        _state.body = previous


@contextlib.contextmanager
def bookkeeping():
    """The ledger's own writes inside an attempt: not effects, so not fenced."""
    previous = getattr(_state, "bookkeeping", False)
    _state.bookkeeping = True
    try:
        yield
    finally:
        _state.bookkeeping = previous


def _fence_before_commit(session: Session) -> None:
    if (not getattr(_state, "body", False) or getattr(_state, "bookkeeping", False)
            or attempt.current_task() is None):
        return
    if not session.in_transaction():
        return
    attempt.fence(session)


def install() -> None:
    """Fence every session commit made while an attempt runs (once per process)."""
    global _installed
    if not _installed:
        event.listen(Session, "before_commit", _fence_before_commit)
        _installed = True

