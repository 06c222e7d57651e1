"""`paydash/charts/aggregation.py` as it was at 1f3a984 (top earners ranked over every row
of the period): the oracle test_top_earners_exact.py compares the faster ranking with.
Taken from git, not copied, so that it is the earlier code word for word.
"""
import os
import subprocess
import types

import pytest
from conftest import ROOT

EARLIER = "1f3a984"
PATH = "paydash/charts/aggregation.py"


def load():
    shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{EARLIER}:{PATH}"],
                           capture_output=True, text=True)
    if shown.returncode != 0:
        message = f"{PATH} at {EARLIER} is not in this checkout's git history"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message, allow_module_level=True)
    module = types.ModuleType("aggregation_before")
    module.__file__ = f"{EARLIER}:{PATH}"
    exec(compile(shown.stdout, module.__file__, "exec"), module.__dict__)  # noqa: S102
    return module


sync_chart_data = load().sync_chart_data
