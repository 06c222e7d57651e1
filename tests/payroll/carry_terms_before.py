"""`paydash/payroll/imported.py` as it was at 1f3a984 (carry_terms written through the ORM's
bulk UPDATE by primary key): the oracle test_carry_terms_sets.py compares the faster write
with. Taken from git, not copied, so that it is the earlier code word for word.
"""
import os
import subprocess
import types

import pytest
from conftest import ROOT

EARLIER = "1f3a984"
PATH = "paydash/payroll/imported.py"


def load():
    shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{EARLIER}:{PATH}"],
                           capture_output=True, text=True)
    if shown.returncode != 0:
        message = f"{PATH} at {EARLIER} is not in this checkout's git history"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message, allow_module_level=True)
    module = types.ModuleType("carry_terms_before")
    module.__file__ = f"{EARLIER}:{PATH}"
    exec(compile(shown.stdout, module.__file__, "exec"), module.__dict__)  # noqa: S102
    return module


carry_terms = load().carry_terms
