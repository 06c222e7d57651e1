"""How every PostgreSQL connection is opened: a dead host must not hold locks for hours.

A powered-off worker host left its session `idle in transaction`, holding the row locks
of a commit; with PostgreSQL's defaults the server would have noticed after about two
hours (kernel keepalive defaults), and the takeover of that commit waited all along. So
each connection asks, for itself:
- TCP keepalives on both ends (libpq's for a dead server, the server's `tcp_keepalives_*`
  and `tcp_user_timeout` for a dead client), so a vanished peer is dropped within about
  the lease, and the server ends its backend and releases its locks;
- `idle_in_transaction_session_timeout`: a frozen process (SIGSTOP, a stuck VM) keeps its
  TCP connection alive, so a transaction left idle that long is ended by the server;
- `lock_timeout`: no statement waits on a lock for longer than the lease and a half, by
  when the holder above is gone; a longer wait fails and the job is retried.
All follow LEASE_SECONDS (the last two at least a minute) unless set on their own (DB_*
settings in `paydash.config`); PGOPTIONS, when set, is applied after them.
"""
import os
from collections.abc import Mapping

# Floors for the defaults (not for explicit settings): a test or a bench run with a lease of
# a few seconds must not have its own sessions ended between two polls.
MIN_IDLE_IN_TRANSACTION = 60
MIN_LOCK_TIMEOUT = 60


def connection_limits(config: Mapping) -> dict[str, int]:
    """Seconds for each limit: from its own setting, else scaled to the lease."""
    lease = float(config.get("LEASE_SECONDS") or 60)

    def setting(name: str, default: float) -> int:
        value = config.get(name)
        return max(1, int(round(float(value if value is not None else default))))

    return {
        "keepalives_idle": setting("DB_KEEPALIVES_IDLE", max(5.0, lease / 4)),
        "keepalives_interval": setting("DB_KEEPALIVES_INTERVAL", max(2.0, lease / 12)),
        "keepalives_count": setting("DB_KEEPALIVES_COUNT", 4),
        "idle_in_transaction": setting("DB_IDLE_IN_TRANSACTION_SECONDS",
                                       max(lease, MIN_IDLE_IN_TRANSACTION)),
        "lock_timeout": setting("DB_LOCK_TIMEOUT_SECONDS", max(lease * 1.5, MIN_LOCK_TIMEOUT)),
    }


def server_options(limits: Mapping[str, int]) -> str:
    """The `options` startup parameter: settings the server applies to this session."""
    dead_peer_ms = 1000 * (limits["keepalives_idle"]
                           + limits["keepalives_interval"] * limits["keepalives_count"])
    settings = {
        "tcp_keepalives_idle": limits["keepalives_idle"],
        "tcp_keepalives_interval": limits["keepalives_interval"],
        "tcp_keepalives_count": limits["keepalives_count"],
        "tcp_user_timeout": dead_peer_ms,
        "idle_in_transaction_session_timeout": f"{limits['idle_in_transaction']}s",
        "lock_timeout": f"{limits['lock_timeout']}s",
    }
    ours = " ".join(f"-c {name}={value}" for name, value in settings.items())
    # libpq ignores PGOPTIONS once `options` is given: the deployer's come last, and win.
    return f"{ours} {os.environ['PGOPTIONS']}" if os.environ.get("PGOPTIONS") else ours


def engine_options(database_uri: str, options: Mapping, config: Mapping) -> dict:
    """`options` (SQLALCHEMY_ENGINE_OPTIONS) with the connection limits for PostgreSQL.

    A deployer's own `connect_args` win over these, key by key; SQLite is left as is.
    """
    options = dict(options)
    if not database_uri.startswith("postgresql"):
        return options
    limits = connection_limits(config)
    wanted = {
        "keepalives": 1,
        "keepalives_idle": limits["keepalives_idle"],
        "keepalives_interval": limits["keepalives_interval"],
        "keepalives_count": limits["keepalives_count"],
        "tcp_user_timeout": 1000 * (limits["keepalives_idle"]
                                    + limits["keepalives_interval"] * limits["keepalives_count"]),
        "options": server_options(limits),
    }
    options["connect_args"] = {**wanted, **dict(options.get("connect_args") or {})}
    return options
