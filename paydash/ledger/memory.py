"""A long-lived worker gives the memory of a big job back to the system (glibc's malloc only).

A 100,000-row import builds and drops tens of megabytes of rows. In a consumer with thread
workers each thread allocates from a malloc arena of its own, and glibc raises its mmap
threshold each time a large block is freed, so later large blocks come from the arenas,
where they stay once freed. Measured on the import bench's sheet (BENCHMARKS.md, issue 18
fourth pass), one consumer's peak rose 169 → 238 → 249 → 253 MB over four imports of the
same 100,000-row sheet, with no Python object left behind.

Three measures; the two on malloc are no-ops where the C library is not glibc:
- `freeze_startup()`, once the consumer has built its app: the objects that make up the
  app (its modules, models, mappers: about 150,000 of them) move to the collector's
  permanent generation, so no later collection walks them. A full collection then takes
  well under a millisecond instead of about 80 ms during which the GIL is held and the
  other worker threads wait, and the collections that a big job's own allocations set
  off get cheaper too (BENCHMARKS.md, issue 18 eighth pass).
- `tune_allocator()`, once when the consumer starts: fixed mmap and trim thresholds (1 MiB),
  so a large block is always its own mapping, unmapped when freed, whatever was freed
  before. A deployer who set glibc's own MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_
  keeps their setting.
- `given_back()`, around a big job: a garbage collection and `malloc_trim(0)` afterwards,
  which returns the free pages of every arena. In the consumer, once the task's app context
  is torn down (its session's connection back in the pool), `after_task()` also closes the
  pool's connections, which held on to memory after an import (`close_pooled_connections`),
  and gives back again.
"""
import ctypes
import gc
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from flask import has_app_context

from paydash.extensions import db

logger = logging.getLogger(__name__)
_after = threading.local()   # per worker thread: close the pool after this task

M_TRIM_THRESHOLD = -1   # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
# Blocks above 1 MiB are mappings of their own. glibc's own starting value, 128 KiB, held the
# consumer's peak as well but cost 5.6 % more CPU in validation (every batch's lists and the
# reader's payloads mapped and faulted in afresh); 1 MiB cost nothing measurable, 4 MiB 0.6 %.
THRESHOLD = 1024 * 1024
DEPLOYER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


@cache
def glibc():
    """The process's C library when it is glibc (it has malloc_trim), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  (raises AttributeError on musl and others)
        libc.malloc_trim
    except (OSError, AttributeError):
        return None
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    return libc


def tune_allocator() -> bool:
    """Fix glibc's mmap and trim thresholds for this process; whether they were set."""
    libc = glibc()
    if libc is None or any(os.environ.get(name) for name in DEPLOYER_SETTINGS):
        return False
    done = (libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD) == 1
            and libc.mallopt(M_TRIM_THRESHOLD, THRESHOLD) == 1)
    if not done:
        logger.warning("could not set malloc's thresholds; a worker may hold on to more memory")
    return done


def freeze_startup() -> int:
    """Collect what start-up left as garbage, then freeze every object still tracked; how
    many are frozen.

    For a process that lives as long as its app (the consumer): the frozen objects are
    never collected, which is what a module, a model class or a mapper needs anyway, and
    every later collection skips them. Before process workers fork, it also keeps their
    collections from writing to (and so copying) the pages they share with the parent.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def close_pooled_connections() -> None:
    """Close the database connections resting in this process's pool; later use opens new ones.

    An import moves the workbook and its staged rows through its connections, and while
    those connections rest in the pool the process keeps the memory (closing them gives it
    back; which of the driver's buffers hold it was not pinned down). Measured on PostgreSQL
    (BENCHMARKS.md, issue 18 fifth pass): over eight 100,000-row imports in one consumer
    the peak rose 176 -> 291 MB, and the memory after each import 136 -> 242 MB; with the
    pool closed after each import task the peak held at 184-187 MB and the memory after at
    107-110 MB. On SQLite the peak over ten imports was 181 MB before, 163 MB after.
    Connections in use at that moment (another worker thread's) are not closed by this. An
    in-memory SQLite database lives in its one connection, so it is left alone.
    """
    if not has_app_context() or db.engine.url.database in (None, "", ":memory:"):
        return
    db.engine.dispose()


def give_back() -> None:
    """Collect garbage, then hand the free pages of every malloc arena back to the system."""
    gc.collect()
    libc = glibc()
    if libc is not None:
        libc.malloc_trim(0)


@contextmanager
def given_back() -> Iterator[None]:
    """Run a big job, then `give_back()` what it freed, however it ended; and ask
    `after_task()` to close the pooled connections."""
    try:
        yield
    finally:
        give_back()
        _after.close_pool = True


def after_task() -> None:
    """Called by the consumer after each task's app context is torn down: if a big job ran
    (`given_back`), close the pool's connections, the task's own among them now that it is
    back, and give back what they held."""
    if getattr(_after, "close_pool", False):
        _after.close_pool = False
        close_pooled_connections()
        give_back()
