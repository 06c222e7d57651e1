"""Huge shapes end in a clear message or a correct import, within a bounded time and memory.

Each workbook is written as raw zip XML (seconds, not minutes) and read in a subprocess
the way the worker reads it — the receive-time check, then the sheet reader — so its peak
resident memory can be measured on its own and capped at 300 MB.
"""
import json
import pathlib
import subprocess
import sys
import zipfile

import pytest
from hostile_files import HEADERS
from hostile_files import NS
from hostile_files import col_letter
from hostile_files import package
from hostile_files import salary_sheet
from hostile_files import sheet_xml

ROOT = pathlib.Path(__file__).resolve().parents[2]
PEAK_RSS_LIMIT_MB = 300
# A bound on each read, generous for a loaded CI runner: a hang or a crawl fails, not a slow box.
TIME_LIMIT_S = 240
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384

READ_IN_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
# A runaway allocation fails fast instead of taking the machine down with it.
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
import logging, re
from paydash.sheets.filecheck import FileRejected, check_upload
# The reader logs its calamine child's own peak: kept apart from this process's.
child_peaks = []
class Peaks(logging.Handler):
    def emit(self, record):
        found = re.search(r"peak (\d+) MB", record.getMessage())
        if found:
            child_peaks.append(int(found.group(1)))
logging.getLogger("paydash.sheets.reader").addHandler(Peaks())
logging.getLogger("paydash.sheets.reader").setLevel(logging.INFO)
from paydash.sheets.salary_sheet import read_salary_sheet
def peak_rss_mb():
    # VmHWM belongs to this process's own address space; getrusage's ru_maxrss would
    # carry over the high-water mark of the (large) pytest process across fork and exec.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
data = open(sys.argv[1], "rb").read()
start = time.monotonic()
result = {}
try:
    check_upload(data, "huge.xlsx", int(sys.argv[3]))
    result["receive"] = "accepted"
except FileRejected as exc:
    result.update(receive="refused", code=exc.code, message=exc.message)
# The worker reads what was stored; read it even when the web check refused it, so the
# reader itself is held to the memory cap too.
report = read_salary_sheet(data)
result.update(fatal=report.fatal, employees=report.employee_count, errors=report.error_count,
              first_errors=[e.as_dict()["message"] for e in report.errors[:3]],
              warnings=report.warnings[:20], seconds=round(time.monotonic() - start, 1),
              peak_rss_mb=peak_rss_mb(), reader_child_peak_mb=max(child_peaks, default=0))
print(json.dumps(result))
"""


def read_in_subprocess(path: pathlib.Path, max_bytes: int = 10 * 1024 * 1024) -> dict:
    done = subprocess.run([sys.executable, "-c", READ_IN_CHILD, str(path), str(ROOT), str(max_bytes)],
                          capture_output=True, text=True, timeout=TIME_LIMIT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_rows_xlsx(path: pathlib.Path, rows: int) -> None:
    """Header plus `rows - 1` employees, streamed into the zip so the test stays lean.

    Cells carry no `r` address (it is optional in OOXML), which keeps the sheet under the
    100 MB inflated limit: a million-row file that the upload check lets through to a worker.
    """
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        skeleton = zipfile.ZipFile(_skeleton_bytes())
        for info in skeleton.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                archive.writestr(info.filename, skeleton.read(info))
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><sheetData>'.encode())
            sheet.write(sheet_xml([HEADERS]).split(b"<sheetData>")[1].split(b"</sheetData>")[0])
            chunk = []
            for n in range(2, rows + 1):
                chunk.append(f'<row><c><v>{n}</v></c><c/><c><v>{10000 + n % 500}</v></c>'
                             '<c><v>12000</v></c><c><v>11000</v></c></row>')
                if len(chunk) == 20000:
                    sheet.write("".join(chunk).encode())
                    chunk.clear()
            sheet.write("".join(chunk).encode())
            sheet.write(b"</sheetData></worksheet>")


def _skeleton_bytes():
    import io  # noqa: PLC0415
    return io.BytesIO(package([("Salary", salary_sheet([]))]))


@pytest.mark.slow
def test_a_million_rows_end_in_a_message_or_an_import_within_memory(tmp_path):
    path = tmp_path / "million.xlsx"
    write_rows_xlsx(path, MAX_ROWS)
    result = read_in_subprocess(path, max_bytes=64 * 1024 * 1024)
    assert result["peak_rss_mb"] <= PEAK_RSS_LIMIT_MB, result
    assert result["fatal"] or result["employees"] == MAX_ROWS - 1, result


def test_sixteen_thousand_columns_import_the_known_ones_and_say_the_rest_were_ignored(tmp_path):
    header = HEADERS + [f"Note {i}" for i in range(len(HEADERS), MAX_COLUMNS)]
    row = ["E001", "Ravi", 30000, 32000, 30000, "Sales"] + [i for i in range(len(HEADERS), MAX_COLUMNS)]
    path = tmp_path / "wide.xlsx"
    path.write_bytes(package([("Salary", sheet_xml([header, row, row[:1] + ["E002"] + row[2:]]))]))
    result = read_in_subprocess(path)
    assert result["peak_rss_mb"] <= PEAK_RSS_LIMIT_MB, result
    assert result["receive"] == "accepted", result
    assert result["fatal"] is None and result["employees"] == 2, result
    assert any("more columns are not used" in w for w in result["warnings"]), result


def test_a_lying_dimension_does_not_make_the_reader_allocate_the_whole_grid(tmp_path):
    path = tmp_path / "dimension.xlsx"
    dimension = f'<dimension ref="A1:{col_letter(MAX_COLUMNS - 1)}{MAX_ROWS}"/>'
    sheet = salary_sheet().replace(b"<sheetData>", (dimension + "<sheetData>").encode())
    path.write_bytes(package([("Salary", sheet)]))
    result = read_in_subprocess(path)
    assert result["peak_rss_mb"] <= PEAK_RSS_LIMIT_MB, result
    assert result["fatal"] is None and result["employees"] == 3, result


def test_a_cell_far_past_the_data_does_not_blow_up_memory(tmp_path):
    """One stray cell at XFD1048576: the used range is the whole grid, the data is 3 rows."""
    path = tmp_path / "stray.xlsx"
    stray = f'<row r="{MAX_ROWS}"><c r="{col_letter(MAX_COLUMNS - 1)}{MAX_ROWS}"><v>1</v></c></row>'
    sheet = salary_sheet().replace(b"</sheetData>", stray.encode() + b"</sheetData>")
    path.write_bytes(package([("Salary", sheet)]))
    result = read_in_subprocess(path)
    assert result["peak_rss_mb"] <= PEAK_RSS_LIMIT_MB, result
    assert result["fatal"] or result["employees"] == 3, result


def test_a_forty_thousand_character_employee_code_gets_a_row_message(tmp_path):
    rows = [["E" * 40_000, "Ravi", 30000, 32000, 30000, "Sales"], ["E002", "Meena", 1, 1, 1, "Sales"]]
    path = tmp_path / "long_code.xlsx"
    path.write_bytes(package([("Salary", salary_sheet(rows))]))
    result = read_in_subprocess(path)
    assert result["peak_rss_mb"] <= PEAK_RSS_LIMIT_MB, result
    assert result["errors"] == 1 and "Row 2" in result["first_errors"][0], result


def test_forty_thousand_character_names_are_not_cut_silently(tmp_path):
    rows = [["E001", "N" * 40_000, 30000, 32000, 30000, "Sales"], ["E002", "Meena", 1, 1, 1, "D" * 40_000]]
    path = tmp_path / "long_cells.xlsx"
    path.write_bytes(package([("Salary", salary_sheet(rows))]))
    result = read_in_subprocess(path)
    assert result["peak_rss_mb"] <= PEAK_RSS_LIMIT_MB, result
    said = " ".join(result["first_errors"] + result["warnings"])
    assert "Row 2" in said and "Row 3" in said, result


def test_thousands_of_sheets_are_refused_at_upload_with_a_message(tmp_path):
    path = tmp_path / "sheets.xlsx"
    sheets = [(f"S{i}", sheet_xml([["x"]])) for i in range(5000)] + [("Salary", salary_sheet())]
    path.write_bytes(package(sheets, compresslevel=1))
    result = read_in_subprocess(path)
    assert result["peak_rss_mb"] <= PEAK_RSS_LIMIT_MB, result
    assert result["receive"] == "refused" and "thousands of sheets" in result["message"], result


def test_fifteen_hundred_sheets_under_the_part_limit_end_in_a_clear_message(tmp_path):
    """Few enough parts to pass the upload check; the salary sheet hides at the very end."""
    path = tmp_path / "many_sheets.xlsx"
    sheets = [(f"Blank {i}", sheet_xml([["x"]])) for i in range(1500)] + [("Salary", salary_sheet())]
    path.write_bytes(package(sheets, compresslevel=1))
    result = read_in_subprocess(path)
    assert result["peak_rss_mb"] <= PEAK_RSS_LIMIT_MB, result
    assert result["receive"] == "accepted", result
    assert result["fatal"] or result["employees"] == 3, result
