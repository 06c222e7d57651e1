"""The dashboard summary as main computed it at 03f1b43, before issue 18: the oracle that
tests/charts/test_dashboard_exact.py compares the faster path with, byte for byte.

The earlier `paydash/charts/queries.py` is taken from git, not kept as a copy here: its
worth is that it is the earlier code, word for word (a clean clone has the history; the
release migration test needs it too).
"""
import os
import subprocess
import sys
import types

import pytest
from conftest import ROOT

EARLIER = "03f1b43"
PATH = "paydash/charts/queries.py"


def _load():
    shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{EARLIER}:{PATH}"],
                           capture_output=True, text=True)
    if shown.returncode != 0:
        message = f"{PATH} at {EARLIER} is not in this checkout's git history"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message, allow_module_level=True)
    module = types.ModuleType("dashboard_before")
    module.__file__ = f"{EARLIER}:{PATH}"
    exec(compile(shown.stdout, module.__file__, "exec"), module.__dict__)  # noqa: S102
    return module


_earlier = _load()
sys.modules[__name__].__dict__.update(
    {name: value for name, value in vars(_earlier).items() if not name.startswith("__")})
