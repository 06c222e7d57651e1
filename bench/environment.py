"""Where the benchmarks find their services: the environment, with the shared dev ones as defaults.

Every bench takes Redis and PostgreSQL from here, so it can run against private instances
(fault injection, a second host) as well as the machine's shared ones:

    BENCH_REDIS_URL     redis://127.0.0.1:6379/0
    BENCH_DATABASE_URL  postgresql+psycopg://postgres@127.0.0.1:5432/test  (an admin database:
                        benches create and drop their own databases next to it)

BENCH_PG_URL, the older name of BENCH_DATABASE_URL, is still read.
"""
import os
import uuid

import sqlalchemy as sa

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL


def database_url() -> str:
    """The PostgreSQL admin URL in SQLAlchemy's psycopg 3 form (postgres:// is accepted)."""
    url = (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("BENCH_PG_URL")
           or DEFAULT_DATABASE_URL)
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def sibling_database(name: str) -> str:
    """The URL of database `name` on the same server as `database_url()`."""
    return database_url().rsplit("/", 1)[0] + "/" + name


def scratch_database(prefix: str) -> tuple[str, callable]:
    """A new PostgreSQL database next to `database_url()`: its URL and a function that drops it."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(database_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :n"), {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
    return sibling_database(name), drop
