"""Sign-in limits: per account across addresses, and per address across accounts.

Built on the `limits` library's moving window: each attempt is counted *before* its
password is checked, with one atomic call (a Lua script on Redis, a lock in memory), so
parallel attempts cannot slip past the limit between a check and a count. With REDIS_URL
set every web process shares the counts; without it each process keeps its own.
"""
import dataclasses
import logging
import math
import time

from flask import current_app
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

_EXTENSION = "paydash_signin_limits"
logger = logging.getLogger(__name__)


@dataclasses.dataclass
class SignInLimits:
    limiter: MovingWindowRateLimiter
    per_account: object
    per_address: object
    # Used while the shared storage cannot be reached: sign-in keeps working, still limited.
    fallback: MovingWindowRateLimiter = dataclasses.field(
        default_factory=lambda: MovingWindowRateLimiter(storage_from_string("memory://")))

    def attempt(self, email: str, address: str) -> int:
        """Count one sign-in attempt; 0 when allowed, else the seconds until the next is."""
        try:
            return self._attempt(self.limiter, email, address)
        except Exception:  # Redis down or unreachable: limit in this process meanwhile.
            logger.exception("sign-in limit storage unreachable; limiting in memory meanwhile")
            return self._attempt(self.fallback, email, address)

    def _attempt(self, limiter, email: str, address: str) -> int:
        """Both limits are counted, so an address spraying many accounts is held back even
        while each account is under its own limit, and the other way round.
        """
        checks = ((self.per_account, "account", email), (self.per_address, "address", address))
        blocked = [(item, kind, key) for item, kind, key in checks
                   if not limiter.hit(item, kind, key)]
        if not blocked:
            return 0
        now = time.time()
        return max(max(1, math.ceil(limiter.get_window_stats(item, kind, key).reset_time - now))
                   for item, kind, key in blocked)


def signin_limits() -> SignInLimits:
    """This app's limits (built at first use from LOGIN_LIMIT_* and REDIS_URL)."""
    found = current_app.extensions.get(_EXTENSION)
    if found is None:
        config = current_app.config
        uri = config.get("LOGIN_LIMIT_STORAGE") or config.get("REDIS_URL") or "memory://"
        options = {"key_prefix": config["LOGIN_LIMIT_PREFIX"]} if uri.startswith("redis") else {}
        found = SignInLimits(MovingWindowRateLimiter(storage_from_string(uri, **options)),
                             parse(config["LOGIN_LIMIT_PER_ACCOUNT"]),
                             parse(config["LOGIN_LIMIT_PER_ADDRESS"]))
        found = current_app.extensions.setdefault(_EXTENSION, found)
    return found
