"""The reader asks the child for the next batch while the parent handles the current one.

A stream left part-way (the header search stops early; an import stops at a fatal row)
leaves an answer read ahead in the pipe: the next request must not be given it. These
tests read two sheets of one workbook, stopping part-way in every order, and compare
with full reads.
"""
import pytest
from sheet_builders import workbook

from paydash.sheets import reader as sheet_reader

ROWS = sheet_reader.BATCH_ROWS * 2 + 100   # enough for two read-ahead batches


def _sheet(label: str) -> list[list]:
    return [[f"{label}-{i}", float(i)] for i in range(ROWS)]


@pytest.fixture(scope="module")
def book() -> bytes:
    return workbook([("First", _sheet("a")), ("Second", _sheet("b"))])


def _rows(book: sheet_reader.Workbook, name: str, stop: int | None = None) -> list:
    sheet = next(s for s in book.sheets if s.name == name)
    rows = []
    for number, cells in book.rows(sheet):
        rows.append((number, list(cells)))
        if stop is not None and len(rows) >= stop:
            break
    return rows


@pytest.mark.parametrize("stop", [1, sheet_reader.FIRST_BATCH_ROWS,
                                  sheet_reader.FIRST_BATCH_ROWS + 1,
                                  sheet_reader.FIRST_BATCH_ROWS + sheet_reader.BATCH_ROWS + 7])
def test_a_stream_left_part_way_does_not_hand_its_read_ahead_to_the_next(book, stop):
    whole = sheet_reader.Workbook(book)
    expected_first, expected_second = _rows(whole, "First"), _rows(whole, "Second")
    assert len(expected_first) == ROWS and expected_first[5][1] == ["a-5", 5.0]

    opened = sheet_reader.Workbook(book)
    assert _rows(opened, "First", stop) == expected_first[:stop]
    assert _rows(opened, "Second") == expected_second      # another sheet after a stop
    assert _rows(opened, "Second", stop) == expected_second[:stop]
    assert _rows(opened, "Second") == expected_second      # the same sheet again
    assert _rows(opened, "First") == expected_first


def test_the_child_reads_ahead_while_the_parent_handles_a_batch(book, monkeypatch):
    """From the second batch on, each batch is asked for before the one before it is handed out."""
    asked = []
    ask = sheet_reader._Child.ask_next
    monkeypatch.setattr(sheet_reader._Child, "ask_next",
                        lambda self, sheet, count: (asked.append(handed[0]), ask(self, sheet, count)))
    handed = [0]
    opened = sheet_reader.Workbook(book)
    sheet = opened.sheets[0]
    for _number, _cells in opened.rows(sheet):
        handed[0] += 1
    first = sheet_reader.FIRST_BATCH_ROWS
    # Rows handed out when each batch was asked for: the first, then after the small
    # first batch, then while the second batch is still unhandled (read ahead).
    assert asked[:3] == [0, first, first]
    assert handed[0] == ROWS


def test_a_child_stopped_with_a_batch_read_ahead_ends_by_itself():
    """Stopping the reader with an answer still in the pipe must not leave the child blocked
    on writing it until it is killed (a batch here is far more than a pipe holds)."""
    wide = [[f"{i:06d}-" + "x" * 60, float(i), "y" * 60] for i in range(ROWS)]
    opened = sheet_reader.Workbook(workbook([("First", wide)]))
    _rows(opened, "First", sheet_reader.FIRST_BATCH_ROWS + 1)
    child = opened._child
    assert child._pending == "First"
    child.stop()
    assert child.process.returncode is not None
    assert child.process.returncode != -9, "the child had to be killed"
