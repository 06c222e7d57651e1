"""The dashboard summary as main computed it at 03f1b43, before issue 18: the oracle that
tests/charts/test_dashboard_exact.py compares the faster path with, byte for byte.

The earlier `paydash/charts/queries.py` is taken from git, not kept as a copy here: its
worth is that it is the earlier code, word for word (a clean clone has the history; the
release migration test needs it too).
"""
import sys

from earlier_code import module_at

_earlier = module_at("03f1b43", "paydash/charts/queries.py", "dashboard_before")
sys.modules[__name__].__dict__.update(
    {name: value for name, value in vars(_earlier).items() if not name.startswith("__")})
