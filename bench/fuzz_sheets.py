"""Fuzz the upload check and the sheet reader with hypothesis for a fixed time.

    python bench/fuzz_sheets.py [--seconds 60] [--save tests/sheets/fuzz_seeds]

Inputs are structured workbooks (random sheets, headers drawn from real synonyms, cells of
every type and many broken ones, odd cell addresses) written as raw zip XML, then often
mutated at the byte level. Each input goes through `check_upload` (FileRejected is its
documented refusal) and `read_salary_sheet` (a report, perhaps with `fatal`, is its
documented result for any bytes). Anything else raised is unhandled: the run exits 1 and
saves the input under `--save` as crash-*.xlsx, together with a handful of inputs that
reached distinct outcomes (seed-*.xlsx); tests/sheets/test_fuzz_seeds.py replays them.

Each .xlsx sheet small enough to read in process is also read by the reading child's code
both ways, whole and in slices of one row (calamine_process.SlicedSheet), and the two must
agree: the same rows (a row may be shorter only by trailing empty cells, before a slice
that widens the sheet), or an error both ways. A disagreement is counted as unhandled.
"""
import argparse
import collections
import hashlib
import pathlib
import re
import sys
import time
import traceback

from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import io  # noqa: E402
import marshal  # noqa: E402
import zipfile  # noqa: E402

from hostile_files import HEADERS  # noqa: E402
from hostile_files import NS  # noqa: E402
from hostile_files import col_letter  # noqa: E402
from hostile_files import package  # noqa: E402

from paydash.sheets import calamine_process  # noqa: E402
from paydash.sheets import reader  # noqa: E402
from paydash.sheets.filecheck import FileRejected  # noqa: E402
from paydash.sheets.filecheck import check_upload  # noqa: E402
from paydash.sheets.salary_sheet import read_salary_sheet  # noqa: E402

MAX_BYTES = 10 * 1024 * 1024
HEADER_POOL = HEADERS + ["Emp Code", "Employee Name", "Basic", "HRA", "Gross", "PF", "ESI",
                         "Prof. Tax", "TDS", "Total Deductions", "Net Pay", "NETT PAYABLE",
                         "SAL+OT", "OT", "LATE", "AMT", "Department", "TOTAL", "Rs.", "₹ Net:"]


class Unhandled(Exception):
    """An exception the check or the reader does not document; `stage` says which raised it."""

    def __init__(self, stage: str, message: str):
        super().__init__(f"{stage}: {message}")
        self.stage = stage


def run_one(data: bytes) -> str:
    """The input's documented outcome, or Unhandled (chained to the real exception)."""
    try:
        check_upload(data, "fuzz.xlsx", MAX_BYTES)
        received = "accepted"
    except FileRejected as exc:
        received = f"refused:{exc.code}"
    except BaseException as exc:  # noqa: BLE001  (Rust panics are BaseException)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise Unhandled("check_upload", f"{type(exc).__name__}: {exc}") from exc
    try:
        report = read_salary_sheet(data)
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise Unhandled("read_salary_sheet", f"{type(exc).__name__}: {exc} (upload {received})") from exc
    if report.fatal:
        # Names and numbers vary from input to input; the kind of message does not.
        read = "fatal:" + re.sub(r"'[^']*'|\d[\d,]*", "…", report.fatal)[:48]
    else:
        read = "errors" if report.error_count else f"ok:{min(report.employee_count, 3)}"
    return f"{received}|{read}"


# --- Workbook strategy -----------------------------------------------------------------------

_numbers = st.one_of(
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e999", "-0", "0x10", "", " ", "1,000", "NaN", "١٢٣", "12.5.6"]),
)
_texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["=1+1", "@SUM(A1)", "TOTAL", "Grand Total", "₹ 12,500", "45,000.00",
                     "twelve thousand", "\u202e", "<b>", "&amp;", "]]>"]),
    st.sampled_from(HEADER_POOL),
)


@st.composite
def cells(draw, column: int, row: int):
    ref = draw(st.sampled_from([f"{col_letter(column)}{row}", "", "A1", "XFD1048576", "ZZZ0",
                                f"{col_letter(column)}{row}"]))
    ref_attr = f' r="{ref}"' if ref else ""
    kind = draw(st.sampled_from(["n", "n", "str", "str", "s", "b", "e", "d", "f", "fv", "raw"]))
    if kind == "n":
        return f"<c{ref_attr}><v>{draw(_numbers)}</v></c>"
    if kind == "str":
        text = _escape(draw(_texts), raw=draw(st.booleans()) and draw(st.booleans()))
        return f'<c{ref_attr} t="inlineStr"><is><t>{text}</t></is></c>'
    if kind == "s":
        return f'<c{ref_attr} t="s"><v>{draw(st.integers(-2, 5))}</v></c>'
    if kind == "b":
        return f'<c{ref_attr} t="b"><v>{draw(st.sampled_from(["0", "1", "2", "x"]))}</v></c>'
    if kind == "e":
        return f'<c{ref_attr} t="e"><v>{draw(st.sampled_from(["#N/A", "#DIV/0!", "#REF!", "junk"]))}</v></c>'
    if kind == "d":
        return f'<c{ref_attr} t="d"><v>{draw(st.sampled_from(["2024-10-01", "2024-13-45", "x"]))}</v></c>'
    if kind == "f":
        return f"<c{ref_attr}><f>A1*2</f></c>"
    if kind == "fv":
        return f"<c{ref_attr}><f>A1*2</f><v>{draw(_numbers)}</v></c>"
    return draw(st.sampled_from(["<c/>", "<c><v/></c>", "<c><is/></c>", "<c t='zz'><v>1</v></c>", ""]))


def _escape(text: str, raw: bool) -> str:
    if raw:  # Sometimes leave markup unescaped: the XML parser's error path gets fuzzed too.
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def sheet(draw):
    rows = []
    header = draw(st.lists(st.sampled_from(HEADER_POOL), min_size=0, max_size=8))
    if draw(st.booleans()):  # Half the sheets have the minimum columns, so rows get read.
        header = ["Emp Code", "Employee Name", "Gross", "Net Pay"] + header[:4]
    start = draw(st.integers(1, 4))
    if header:
        rows.append(f'<row r="{start}">' + "".join(
            f'<c r="{col_letter(i)}{start}" t="inlineStr"><is><t>{_escape(h, False)}</t></is></c>'
            for i, h in enumerate(header)) + "</row>")
    for number in range(start + 1, start + 1 + draw(st.integers(0, 8))):
        width = draw(st.integers(0, 8))
        row_attr = draw(st.sampled_from([f' r="{number}"', "", ' r="0"', ' r="1048577"', ' r="x"']))
        rows.append(f"<row{row_attr}>" + "".join(draw(cells(i, number)) for i in range(width)) + "</row>")
    dimension = draw(st.sampled_from(["", '<dimension ref="A1:XFD1048576"/>', '<dimension ref="A1"/>',
                                      '<dimension ref="garbage"/>']))
    body = f'<worksheet {NS}>{dimension}<sheetData>{"".join(rows)}</sheetData></worksheet>'
    return ('<?xml version="1.0" encoding="UTF-8"?>' + body).encode()


@st.composite
def workbooks(draw) -> bytes:
    count = draw(st.integers(0, 3))
    names = draw(st.lists(st.text(min_size=1, max_size=12).filter(lambda n: "\x00" not in n),
                          min_size=count, max_size=count, unique=True))
    sheets = [(name, draw(sheet())) for name in names]
    hidden = tuple(name for name in names if draw(st.booleans()) and draw(st.booleans()))
    extra, rels = {}, ""
    if draw(st.booleans()):  # a shared-string table, so t="s" cells have strings to point at
        items = "".join(draw(st.sampled_from(["<si/>", "<si><t/></si>", "<si><r><t>a</t></r><r><t>b</t></r></si>"]))
                        if draw(st.booleans()) else f"<si><t>{_escape(draw(_texts), False)}</t></si>"
                        for _ in range(draw(st.integers(0, 6))))
        extra["xl/sharedStrings.xml"] = f"<sst {NS}>{items}</sst>".encode()
        rels = ('<Relationship Id="rIdT" Type="http://schemas.openxmlformats.org/officeDocument/'
                '2006/relationships/sharedStrings" Target="sharedStrings.xml"/>')
    try:
        data = package(sheets, hidden=hidden, compresslevel=1, extra=extra, workbook_rels_extra=rels)
    except ValueError:  # a name zipfile or XML escaping cannot take: keep the generator simple
        data = package([("Salary", draw(sheet()))], compresslevel=1, extra=extra,
                       workbook_rels_extra=rels)
    return draw(mutated(data))


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """Often unchanged (the reader's logic), else flipped, cut or spliced bytes (the parsers)."""
    how = draw(st.sampled_from(["none"] * 5 + ["flip", "cut", "splice", "zero"]))
    if how == "none" or not data:
        return data
    at = draw(st.integers(0, len(data) - 1))
    if how == "flip":
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    if how == "cut":
        return data[:at]
    if how == "zero":
        return data[:at] + b"\0" * min(16, len(data) - at) + data[at + 16:]
    return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]


# --- Sliced against whole ----------------------------------------------------------------------

_ADDRESS = re.compile(rb"""\br\s*=\s*["']([A-Za-z]{0,3})(\d+)["']""")


def _small_enough(archive: zipfile.ZipFile, part: str) -> bool:
    """No address in the part that would make calamine build a big grid in this process."""
    xml = archive.read(part)
    if len(xml) > 1 << 20:
        return False
    for letters, digits in _ADDRESS.findall(xml):
        if len(digits) > 5 or int(digits) > 2000 or len(letters) > 2:
            return False
    return True


def _child_read(data: bytes, sheet, strings: str, sliced: bool):
    """The rows the child sends, and last what its scan found (uncached formulas, the first).

    Both ways name the sheet's part; the whole read is the one the child falls back to for
    a sheet it cannot slice (its part scanned before the first row)."""
    child = calamine_process.Reader(data)
    sliceable = calamine_process.SlicedSheet
    if not sliced:
        calamine_process.SlicedSheet = _not_sliceable
    try:
        opened = child.open(sheet.name, sheet.path, strings)
    finally:
        calamine_process.SlicedSheet = sliceable
    if opened[0] != "ok":
        return ("error", opened[1])
    rows = []
    while True:
        answer = marshal.loads(child.next(1000))
        rows += [(row, [d for d in answer[2] if d[0] == i]) for i, row in enumerate(answer[1])]
        if answer[3]:
            return [*rows, (["end", *answer[5:]], [])]


def _not_sliceable(*_args, **_kwargs):
    raise calamine_process.NotSliceable("the whole read, for comparison")


def _differs(message: str) -> None:
    try:
        raise AssertionError(message)
    except AssertionError as exc:
        raise Unhandled("sliced", "the sliced read differs from the whole read") from exc


def sliced_against_whole(data: bytes) -> str:
    """"same", "skipped", or Unhandled when the sliced read of a sheet differs from the whole."""
    try:
        workbook = reader.Workbook(data)
        archive = zipfile.ZipFile(io.BytesIO(data))
        sheets = [s for s in workbook.sheets if workbook.kind == "xlsx"
                  and s.path in archive.NameToInfo and _small_enough(archive, s.path)]
    except Exception:  # noqa: BLE001  (the reader's own outcome is judged by run_one)
        return "skipped"
    old, calamine_process.SLICE_BYTES = calamine_process.SLICE_BYTES, 1
    try:
        for sheet in sheets:
            outcomes = []
            for sliced in (False, True):
                try:
                    outcomes.append(_child_read(data, sheet, workbook._strings, sliced))
                except (calamine_process.RowsOutOfOrder, calamine_process.TooManyCells) as exc:
                    outcomes.append(("refused", type(exc).__name__))
                except Exception as exc:  # noqa: BLE001  (calamine's errors, both ways)
                    outcomes.append(("error", type(exc).__name__))
            whole, sliced = outcomes
            whole_failed, sliced_failed = isinstance(whole, tuple), isinstance(sliced, tuple)
            if whole_failed and sliced_failed:
                continue   # refused both ways (the message may name another slice)
            if sliced == ("refused", "RowsOutOfOrder"):
                continue   # documented: rows out of order across two slices end in a message
            if whole_failed or sliced_failed:
                _differs(f"sheet {sheet.name!r}: whole {str(whole)[:300]} sliced {str(sliced)[:300]}")
            # Compared as text: a NaN cell (a number cell holding "NaN") is unequal to itself.
            if len(whole) != len(sliced) or any(
                    repr(s_dates) != repr(w_dates)
                    or repr(s_row + [""] * (len(w_row) - len(s_row))) != repr(w_row)
                    for (w_row, w_dates), (s_row, s_dates) in zip(whole, sliced, strict=True)):
                _differs(f"sheet {sheet.name!r}: rows differ: whole {str(whole)[:400]} "
                         f"sliced {str(sliced)[:400]}")
    finally:
        calamine_process.SLICE_BYTES = old
    return "same" if sheets else "skipped"


# --- The run -----------------------------------------------------------------------------------


class Run:
    def __init__(self, save: pathlib.Path | None):
        self.save = save
        self.outcomes = collections.Counter()
        self.crashes: dict[str, tuple[bytes, str]] = {}
        self.interesting: dict[str, bytes] = {}
        self.slowest = (0.0, b"")

    def check(self, data: bytes) -> None:
        started = time.monotonic()
        try:
            outcome = run_one(data)
            self.outcomes[f"sliced vs whole: {sliced_against_whole(data)}"] += 1
        except Unhandled as exc:
            cause = exc.__cause__
            frame = traceback.extract_tb(cause.__traceback__)[-1]
            key = f"{exc.stage}: {type(cause).__name__} at {pathlib.Path(frame.filename).name}:{frame.lineno}"
            self.crashes.setdefault(key, (data, "".join(traceback.format_exception(exc.__cause__))))
            outcome = "UNHANDLED"
        elapsed = time.monotonic() - started
        if elapsed > self.slowest[0]:
            self.slowest = (elapsed, data)
        self.outcomes[outcome] += 1
        if outcome != "UNHANDLED" and outcome not in self.interesting and len(data) < 64 * 1024:
            self.interesting[outcome] = data

    def write(self) -> None:
        if self.save is None:
            return
        self.save.mkdir(parents=True, exist_ok=True)
        for data, _trace in self.crashes.values():
            _write(self.save, "crash", data)
        # A handful of outcomes, rarest first: they exercise the least-travelled paths.
        rare = sorted(self.interesting, key=lambda o: self.outcomes[o])[:10]
        for outcome in rare:
            _write(self.save, "seed", self.interesting[outcome])
        if self.slowest[1] and len(self.slowest[1]) < 64 * 1024:
            _write(self.save, "slow", self.slowest[1])


def _write(folder: pathlib.Path, prefix: str, data: bytes) -> None:
    (folder / f"{prefix}-{hashlib.sha256(data).hexdigest()[:12]}.xlsx").write_bytes(data)


def fuzz(seconds: float, save: pathlib.Path | None) -> Run:
    run = Run(save)

    @settings(max_examples=250, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(workbooks())
    def batch(data):
        run.check(data)

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batch()
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--save", type=pathlib.Path, default=ROOT / "tests" / "sheets" / "fuzz_seeds")
    args = parser.parse_args()
    started = time.monotonic()
    run = fuzz(args.seconds, args.save)
    run.write()
    total = sum(run.outcomes.values())
    print(f"{total} inputs in {time.monotonic() - started:.0f} s; slowest {run.slowest[0]:.2f} s")
    for outcome, count in run.outcomes.most_common():
        print(f"  {count:7d}  {outcome}")
    print(f"unhandled exceptions: {run.outcomes['UNHANDLED']} ({len(run.crashes)} distinct)")
    for key, (_data, trace) in run.crashes.items():
        print(f"\n--- {key}\n{trace[-1500:]}")
    return 1 if run.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
