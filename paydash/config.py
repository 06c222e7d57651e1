"""One environment-driven configuration, shared by the web app and the worker."""
import os
import pathlib
import sys

from huey.consumer_options import OptionParserHandler

ROOT = pathlib.Path(__file__).resolve().parent.parent
INSTANCE = pathlib.Path(os.environ.get("PAYDASH_INSTANCE", ROOT / "instance"))


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def is_consumer() -> bool:
    """Is this process `huey_consumer` (the script, or `python -m huey.bin.huey_consumer`)?"""
    return bool(sys.argv) and ("huey_consumer" in sys.argv[0] or "huey.bin.huey_consumer" in sys.argv)


def _consumer_flags() -> dict:
    """The -w/-k flags when this process is `huey_consumer`: its command line is the truth.

    Worker rows, the heartbeat and the connection pool must match the workers that really
    run, whatever WORKERS and WORKER_TYPE say in the environment.
    """
    if not is_consumer():
        return {}
    parser = OptionParserHandler().get_option_parser()
    try:
        options, _ = parser.parse_args([a for a in sys.argv[1:] if a != "huey.bin.huey_consumer"])
    except SystemExit:  # Not our command line after all.
        return {}
    flags = {}
    if options.workers:
        flags["WORKERS"] = options.workers
    if options.worker_type:
        flags["WORKER_TYPE"] = options.worker_type
    return flags


_CONSUMER = _consumer_flags()


def database_url(raw: str | None) -> str:
    """Normalise DATABASE_URL: Heroku's `postgres://` and plain `postgresql://` use psycopg 3."""
    if not raw:
        return f"sqlite:///{INSTANCE / 'paydash.db'}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://"):]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://"):]
    return raw


class Config:
    """Settings read from the environment when the class is loaded (see `.env.example`)."""

    ENV_NAME = os.environ.get("PAYDASH_ENV", "development")
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL"))
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    # Queue: Redis when REDIS_URL is set, else an embedded SQLite file.
    REDIS_URL = os.environ.get("REDIS_URL") or None
    HUEY_NAME = os.environ.get("HUEY_NAME", "paydash")
    HUEY_SQLITE_PATH = os.environ.get("HUEY_SQLITE_PATH", str(INSTANCE / "huey.db"))
    HUEY_IMMEDIATE = _bool("HUEY_IMMEDIATE", False)
    # Worker settings mirror the consumer's command line (see Procfile).
    WORKERS = _CONSUMER.get("WORKERS") or _int("WORKERS", 2)
    WORKER_TYPE = _CONSUMER.get("WORKER_TYPE") or os.environ.get("WORKER_TYPE", "thread")
    # Connections per process. A worker thread can hold two at once (its task's session and
    # the progress/fence connection), plus the heartbeat and scheduler threads: with the
    # default pool of 5 + 10, sixteen thread workers starved each other for 30 s at a time.
    DB_POOL_SIZE = _int("DB_POOL_SIZE", max(5, 2 * WORKERS + 4))

    # Chart sync policy (the design card: 3 retries, 60 s apart, 30 minute limit).
    CHART_SYNC_RETRIES = _int("CHART_SYNC_RETRIES", 3)
    CHART_SYNC_RETRY_DELAY = _int("CHART_SYNC_RETRY_DELAY", 60)
    CHART_SYNC_TIMEOUT = _int("CHART_SYNC_TIMEOUT", 30 * 60)
    IMPORT_TIMEOUT = _int("IMPORT_TIMEOUT", 30 * 60)
    IMPORT_RETRIES = _int("IMPORT_RETRIES", 2)
    IMPORT_RETRY_DELAY = _int("IMPORT_RETRY_DELAY", 10)

    # Periodic work.
    CHART_DATA_RETENTION_DAYS = _int("CHART_DATA_RETENTION_DAYS", 90)
    CLEANUP_TIMEZONE = os.environ.get("CLEANUP_TIMEZONE", "UTC")
    JOB_RETENTION_SUCCESS_DAYS = _int("JOB_RETENTION_SUCCESS_DAYS", 30)
    JOB_RETENTION_FAILURE_DAYS = _int("JOB_RETENTION_FAILURE_DAYS", 90)
    UPLOAD_RETENTION_DAYS = _int("UPLOAD_RETENTION_DAYS", 400)

    # No job lost: heartbeats and leases (seconds).
    HEARTBEAT_INTERVAL = _float("HEARTBEAT_INTERVAL", 15)
    LEASE_SECONDS = _float("LEASE_SECONDS", 60)
    # A job enqueued this long ago that no queue holds is re-enqueued (Redis lost it).
    ENQUEUE_GRACE_SECONDS = _float("ENQUEUE_GRACE_SECONDS", 20)
    # Each consumer's recovery thread: leases, lost messages and the outbox, this often.
    RECOVERY_INTERVAL = _float("RECOVERY_INTERVAL", 5)
    # PostgreSQL connections (paydash/dbconnect.py): unset, each follows LEASE_SECONDS.
    DB_KEEPALIVES_IDLE = os.environ.get("DB_KEEPALIVES_IDLE")
    DB_KEEPALIVES_INTERVAL = os.environ.get("DB_KEEPALIVES_INTERVAL")
    DB_KEEPALIVES_COUNT = os.environ.get("DB_KEEPALIVES_COUNT")
    DB_IDLE_IN_TRANSACTION_SECONDS = os.environ.get("DB_IDLE_IN_TRANSACTION_SECONDS")
    DB_LOCK_TIMEOUT_SECONDS = os.environ.get("DB_LOCK_TIMEOUT_SECONDS")

    # The ledger's write-behind (paydash/ledger_writer.py): claims and successes of attempts
    # that change nothing are written in batches, at most this many seconds late.
    LEDGER_WRITE_BEHIND = _bool("LEDGER_WRITE_BEHIND", True)
    LEDGER_FLUSH_SECONDS = _float("LEDGER_FLUSH_SECONDS", 0.05)
    LEDGER_FLUSH_BATCH = _int("LEDGER_FLUSH_BATCH", 500)

    # Prometheus /metrics without a signed-in operator: `Authorization: Bearer <token>`.
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None

    # Uploads.
    MAX_UPLOAD_MB = _int("MAX_UPLOAD_MB", 10)
    MAX_CONTENT_LENGTH = MAX_UPLOAD_MB * 1024 * 1024

    # Sessions and the proxy in front (only trusted when configured).
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # The cookie is re-sent only when the session changes: re-signing it on every JSON poll
    # costs each dashboard and job-status request time for nothing.
    SESSION_REFRESH_EACH_REQUEST = False
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    TRUST_PROXY_HEADERS = _bool("TRUST_PROXY_HEADERS", False)
    WTF_CSRF_TIME_LIMIT = None
    # How long a web process reuses a signed-in user it has read (0: read on every request).
    # A change made in the same process is seen at once; one made in another process (the
    # other web workers, the worker, a CLI command) within this many seconds.
    USER_CACHE_SECONDS = _float("USER_CACHE_SECONDS", 5)
    LOGIN_RATE_LIMIT = _int("LOGIN_RATE_LIMIT", 10)

    @classmethod
    def as_dict(cls) -> dict:
        return {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
