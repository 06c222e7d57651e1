"""A module as it was at an earlier commit, for tests that compare faster code with it.

Taken from git, not kept as a copy: its worth is that it is the earlier code word for word
(a clean clone has the history). Without that history the test is skipped, or fails under
CI=true.
"""
import os
import subprocess
import types

import pytest
from conftest import ROOT


def module_at(commit: str, path: str, name: str) -> types.ModuleType:
    """`path` (e.g. "paydash/charts/queries.py") at `commit`, run as a module named `name`."""
    shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
                           capture_output=True, text=True)
    if shown.returncode != 0:
        message = f"{path} at {commit} is not in this checkout's git history"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message, allow_module_level=True)
    module = types.ModuleType(name)
    module.__file__ = f"{commit}:{path}"
    exec(compile(shown.stdout, module.__file__, "exec"), module.__dict__)  # noqa: S102
    return module
