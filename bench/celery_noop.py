"""Celery for the ledger benchmark: Redis broker, results ignored, the same no-op task."""
import os

from celery import Celery

app = Celery("bench_celery", broker=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(task_ignore_result=True, task_default_queue=os.environ.get("BENCH_CELERY_QUEUE", "bench_celery"),
                worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)


@app.task(name="bench.noop")
def noop(seconds: float = 0) -> dict:
    """Do nothing, like tasks.diagnostics.noop."""
    return {"slept": seconds}
