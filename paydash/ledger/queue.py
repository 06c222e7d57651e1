"""Build and introspect the one Huey instance; no task lives here.

Storage follows configuration: REDIS_URL set means a priority-capable Redis storage,
otherwise an embedded SQLite file under instance/. The serializer is signed with
SECRET_KEY so that whoever can write to the broker cannot make the worker unpickle
arbitrary data.
"""
import hashlib
import hmac
import logging
import pathlib
import pickle
from collections.abc import Mapping

from huey import Huey
from huey.serializer import SignedSerializer
from huey.storage import PriorityRedisStorage
from huey.storage import SqliteStorage

from paydash.ledger import outage
from paydash.ledger.attempt import current_task

logger = logging.getLogger(__name__)

# Queue labels, expressed as Huey priorities (higher runs first). HR waits on an import's
# preview, then on the chart sync; maintenance can always wait.
PRIORITIES = {"imports": 30, "chart_sync": 20, "maintenance": 0}
DEV_SECRET = "paydash-development-secret-change-me"


class ForgedMessage(Exception):
    """A queue message whose signature does not match: refused, never unpickled."""


class LoggingSignedSerializer(SignedSerializer):
    """Huey's signed serializer (same wire format: pickle, ':', hex HMAC-SHA1), which logs
    and refuses forged messages.

    Huey's check cost a no-op task about 12 µs in the consumer, more than unpickling it
    (BENCHMARKS.md, "Ledger cost"); this one about 4 µs.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # RFC 2104 with the keyed pads hashed once: each message then costs two hash copies.
        # (hmac.new and hmac.digest set up OpenSSL's HMAC for every call: three times the
        # cost in the consumer's loop.)
        key = self._key if len(self._key) <= 64 else hashlib.sha1(self._key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha1(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha1(bytes(byte ^ 0x5C for byte in key))

    def _signature(self, message) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest().encode()

    def _serialize(self, message) -> bytes:
        data = pickle.dumps(message, self.pickle_protocol)
        return data + b":" + self._signature(data)

    def _deserialize(self, data):
        message, separator, signature = data.rpartition(b":")
        if separator and hmac.compare_digest(signature, self._signature(message)):
            return pickle.loads(message)
        reason = "signature mismatch" if separator else "no signature"
        logger.error("Refused a queue message with a bad signature (%d bytes): %s",
                     len(data), reason)
        raise ForgedMessage(reason)


class BestEffortCleanup:
    """Storage whose post-run clean-up cannot lose a finished job's outcome.

    After a task runs, Huey deletes its revoke flag from the broker *before* the
    post-execute hook that records the outcome in the ledger. With the broker down that
    delete raised, the outcome was never recorded, the lease expired and the job ran a
    second time. A leftover flag for a finished task id is harmless (ids are never reused),
    so the delete is best effort.
    """

    def delete_data(self, key):
        try:
            return super().delete_data(key)
        except Exception as exc:  # Broker unreachable: keep the outcome, drop the clean-up.
            logger.warning("could not delete %s from the queue storage (%s); left behind", key, exc)
            return False


class QuietOutage:
    """Storage whose consumer loops report a broker outage once, not a traceback a poll.

    Each worker polls the queue and the scheduler reads its schedule many times a second;
    with Redis away Huey logged a traceback for every poll (121,580 lines in one minute).
    A failed poll now finds nothing (the loop backs off as when the queue is empty) and
    counts against `outage.BROKER`: one warning when it starts, a line a minute, one when
    it ends.
    """

    def dequeue(self):
        try:
            data = super().dequeue()
        except Exception as exc:
            if outage.kind_of(exc) is not outage.BROKER:
                raise
            outage.BROKER.failed("reading the queue", exc)
            return None
        outage.BROKER.answered()
        return data

    def read_schedule(self, ts):
        try:
            return super().read_schedule(ts)
        except Exception as exc:
            if outage.kind_of(exc) is not outage.BROKER:
                raise
            outage.BROKER.failed("reading the schedule", exc)
            return []


class LedgerRedisStorage(QuietOutage, BestEffortCleanup, PriorityRedisStorage):
    pass


class LedgerSqliteStorage(BestEffortCleanup, SqliteStorage):
    pass


class LedgerHuey(Huey):
    """Huey without the broker round trip that the ledger makes redundant.

    After every task Huey deletes the task's revoke flag from the broker (one HDEL per
    task, a third of a no-op task's broker work) in case it was revoked while it ran.
    Paydash revokes only through the ledger (`paydash.ledger.actions`), and only a job the ledger
    holds as PENDING or RETRY: once the ledger has an attempt's claim, no flag
    can be set for it, and that attempt's delete is skipped. The one window left, a job
    revoked while its written-behind claim waits, ends with that claim refused, and
    `jobs.settle_refused` deletes the flag then. Every other delete goes through.
    """

    def delete(self, key):
        running = current_task()
        if running is not None and key == running.revoke_id:
            return False
        return super().delete(key)

    def _requeue_task(self, task, timestamp, retry_eta=None):
        # An attempt interrupted by a shutdown went back on the queue through the ledger,
        # uncounted (`jobs.finish`): Huey's retry of it would be a second message.
        if getattr(task, "ledger_interrupted", False):
            return None
        return super()._requeue_task(task, timestamp, retry_eta)

    def forget_revoke_flag(self, task) -> None:
        """Delete `task`'s revoke flag, even from the thread still running that attempt."""
        super().delete(task.revoke_id)


def storage_settings(config: Mapping) -> tuple[type, dict]:
    """Which storage class and arguments `config` asks for."""
    name = config.get("HUEY_NAME") or "paydash"
    if config.get("REDIS_URL"):
        return LedgerRedisStorage, {"url": config["REDIS_URL"], "blocking": True,
                                      "read_timeout": 1, "_name": name}
    path = pathlib.Path(config.get("HUEY_SQLITE_PATH") or "instance/huey.db")
    return LedgerSqliteStorage, {"filename": str(path), "timeout": 10, "_name": name}


def secret_of(config: Mapping) -> str:
    return config.get("SECRET_KEY") or DEV_SECRET


def make_huey(config: Mapping) -> Huey:
    """The Huey instance for `config`; results are off because the job ledger keeps them."""
    storage_class, kwargs = storage_settings(config)
    name = kwargs.pop("_name")
    if issubclass(storage_class, SqliteStorage):
        pathlib.Path(kwargs["filename"]).parent.mkdir(parents=True, exist_ok=True)
    huey = LedgerHuey(
        name=name,
        results=False,
        utc=True,
        immediate=bool(config.get("HUEY_IMMEDIATE")),
        serializer=LoggingSignedSerializer(secret=secret_of(config), salt="paydash-queue"),
        storage_class=storage_class,
        **kwargs,
    )
    huey._paydash_settings = (storage_class, dict(kwargs, _name=name), secret_of(config))
    return huey


def configure_huey(huey: Huey, config: Mapping) -> None:
    """Point an existing instance (with its tasks registered) at the storage `config` names."""
    storage_class, kwargs = storage_settings(config)
    wanted = (storage_class, kwargs, secret_of(config))
    huey.immediate = bool(config.get("HUEY_IMMEDIATE"))
    if getattr(huey, "_paydash_settings", None) == wanted:
        return
    kwargs = dict(kwargs)
    huey.name = kwargs.pop("_name")
    if issubclass(storage_class, SqliteStorage):
        pathlib.Path(kwargs["filename"]).parent.mkdir(parents=True, exist_ok=True)
    huey.serializer = LoggingSignedSerializer(secret=wanted[2], salt="paydash-queue")
    huey.storage_class = storage_class
    huey.storage_kwargs = kwargs
    huey.storage = huey.create_storage()
    huey._paydash_settings = wanted


def backend_name(huey: Huey) -> str:
    return "redis" if isinstance(huey.storage, PriorityRedisStorage) else "sqlite"


def task_wrapper(huey: Huey, task_name: str):
    """The registered TaskWrapper-like class for a short task name, e.g. 'sync_chart_data_batch'."""
    for task_class in huey._registry._registry.values():
        if task_class.__name__ == task_name:
            return task_class
    raise KeyError(f"no task named {task_name!r} is registered")


# Each task's policy settings in the config, by prefix (e.g. CHART_SYNC_RETRIES).
POLICY_PREFIX = {
    "sync_chart_data_batch": "CHART_SYNC",
    "import_salary_sheet": "IMPORT",
    "commit_salary_sheet": "IMPORT",
    "diagnostic_probe": "PROBE",
}


def task_policy(huey: Huey, task_name: str, config: Mapping) -> dict:
    """Retries, retry delay and time limit for a task: the config's, else the decorator's.

    Taken when the job is enqueued, so they travel in the message and a worker started
    with other settings still honours the limits the job was created with.
    """
    task_class = task_wrapper(huey, task_name)
    prefix = POLICY_PREFIX.get(task_name, "")

    def setting(name: str, default):
        value = config.get(f"{prefix}_{name}") if prefix else None
        return default if value is None else value

    return {"retries": int(setting("RETRIES", task_class.default_retries or 0)),
            "retry_delay": setting("RETRY_DELAY", task_class.default_retry_delay or 0),
            "timeout": setting("TIMEOUT", task_class.default_timeout)}


def registered_task_names(huey: Huey) -> list[str]:
    return sorted(tc.__name__ for tc in huey._registry._registry.values())


def periodic_task_classes(huey: Huey) -> list:
    """Periodic task classes (not instances), in registration order."""
    return list(huey._registry._periodic_tasks)


def queued_task_ids(huey: Huey, limit: int | None = None) -> set[str]:
    """Ids of the tasks the broker holds, queued or scheduled (read without removing)."""
    ids = set()
    for raw in list(huey.storage.enqueued_items(limit)) + list(huey.storage.scheduled_items(limit)):
        try:
            ids.add(huey.deserialize_task(raw).id)
        except Exception:  # A foreign or forged message: it can hold no ledger job.
            logger.warning("Skipped an unreadable queue message while listing the queue")
    return ids


def broker_reachable(huey: Huey) -> tuple[bool, str]:
    try:
        huey.storage.queue_size()
    except Exception as exc:  # Any error here means "unreachable" to an operator.
        return False, f"{type(exc).__name__}: {exc}"
    return True, "ok"
