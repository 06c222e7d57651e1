"""Replay the fuzz run's saved inputs: each ends in a documented outcome, never an exception.

bench/fuzz_sheets.py saves crashing inputs (crash-*.xlsx) and inputs that reached rare
outcomes (seed-*.xlsx, slow-*.xlsx) in tests/sheets/fuzz_seeds/; a crash seed fails here until the
reader or the upload check handles it: it is replayed as a strict xfail, so the suite says
when it is fixed (then rename it seed-*.xlsx to keep it as a regression seed).
"""
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from fuzz_sheets import run_one  # noqa: E402

SEEDS = sorted((ROOT / "tests" / "sheets" / "fuzz_seeds").glob("*.xlsx"))


def test_there_are_seeds_to_replay():
    assert len(SEEDS) >= 5


def _params():
    for path in SEEDS:
        crash = path.name.startswith("crash-")
        marks = [pytest.mark.xfail(strict=True, reason="an unhandled exception the fuzz run found; "
                                   "see the report of bench/fuzz_sheets.py")] if crash else []
        yield pytest.param(path, id=path.name, marks=marks)


@pytest.mark.parametrize("seed", _params())
def test_seed_ends_in_a_documented_outcome(seed):
    outcome = run_one(seed.read_bytes())
    received, read = outcome.split("|", 1)
    assert received == "accepted" or received.startswith("refused:")
    assert read.startswith(("fatal:", "errors", "ok:"))
