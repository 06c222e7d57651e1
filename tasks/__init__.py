"""Thin task modules: each takes ids, calls one domain function and owns its retry policy."""
from tasks import alerts  # noqa: F401
from tasks import chart_sync  # noqa: F401
from tasks import diagnostics  # noqa: F401
from tasks import imports  # noqa: F401
from tasks import maintenance  # noqa: F401
