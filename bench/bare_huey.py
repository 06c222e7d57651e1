"""Bare Huey for the ledger benchmark: the same storage class and no-op task, no hooks, no ledger."""
import os

from huey import Huey
from huey.storage import PriorityRedisStorage

huey = Huey(name=os.environ.get("BENCH_HUEY_NAME", "bench_bare"), results=False, utc=True,
            storage_class=PriorityRedisStorage,
            url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), blocking=True, read_timeout=1)


@huey.task()
def noop(seconds: float = 0) -> dict:
    """Do nothing, like tasks.diagnostics.noop."""
    return {"slept": seconds}
