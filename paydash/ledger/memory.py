"""A long-lived worker gives the memory of a big job back to the system (glibc's malloc only).

A 100,000-row import builds and drops tens of megabytes of rows. In a consumer with thread
workers each thread allocates from a malloc arena of its own, and glibc raises its mmap
threshold each time a large block is freed, so later large blocks come from the arenas,
where they stay once freed. Measured on the import bench's sheet (BENCHMARKS.md, issue 18
fourth pass), one consumer's peak rose 169 → 238 → 249 → 253 MB over four imports of the
same 100,000-row sheet, with no Python object left behind.

Two measures, both no-ops where the C library is not glibc:
- `tune_allocator()`, once when the consumer starts: fixed mmap and trim thresholds (1 MiB),
  so a large block is always its own mapping, unmapped when freed, whatever was freed
  before. A deployer who set glibc's own MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_
  keeps their setting.
- `given_back()`, around a big job: a garbage collection and `malloc_trim(0)` afterwards,
  which returns the free pages of every arena.
"""
import ctypes
import gc
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

logger = logging.getLogger(__name__)

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


def give_back() -> None:
    """Collect garbage, then hand the free pages of every malloc arena back to the system."""
    gc.collect()
    libc = glibc()
    if libc is not None:
        libc.malloc_trim(0)


@contextmanager
def given_back() -> Iterator[None]:
    """Run a big job, then `give_back()` what it freed, however it ended."""
    try:
        yield
    finally:
        give_back()
