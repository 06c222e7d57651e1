"""A child process that reads one workbook with python-calamine and hands its rows over in batches.

Why a child: calamine (Rust) reads .xlsx, .xls and .ods ten times faster than a Python-level
parser, but it holds the whole sheet in memory while it does (about 1.8 KB per 23-column
row). In a child that memory is given back to the system as soon as the read ends, it never
raises the worker's own high-water mark, and an address-space limit (`RLIMIT_AS`) turns a
sheet that would need gigabytes (one stray cell at XFD1048576 makes calamine build the
whole grid) into a clear message instead of a worker killed by the kernel.

The parent (`paydash.sheets.reader`) runs this file as a script with `python -I`, so the
child imports only the standard library and python_calamine — none of Paydash. Messages
both ways are marshal data behind an 8-byte length: marshal, not pickle, so a child that a
hostile file somehow took over still cannot make the parent run code.

Requests and answers:
- the workbook's bytes → ("ok", [(name, is_worksheet, visible), ...]) or ("error", kind, detail)
- ("open", name) → ("ok", rows): the sheet loaded (kept for the next "open" of the same name)
- ("next", count) → ("rows", rows, dates, finished, peak_mb): up to `count` rows from the top
  of the sheet, cells[0] being column A; `dates` lists (row, column, kind, text) for date
  and time cells, which marshal cannot carry, sent as "" in `rows`.
"""
import datetime as dt
import io
import marshal
import re
import struct
import sys
import zipfile

HEADER = struct.Struct(">Q")
MAX_COLUMNS = 1024      # cells further right than column AMJ are not read
MAX_CELLS = 40_000_000  # rows × columns that one sheet may span (500,000 × 80)
MAX_CELL_ERRORS = 10_000
SCAN_CHUNK = 4 * 1024 * 1024


def send(stream, obj) -> None:
    payload = marshal.dumps(obj)
    stream.write(HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def send_bytes(stream, payload: bytes) -> None:
    stream.write(HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def receive_bytes(stream) -> bytes | None:
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    (size,) = HEADER.unpack(head)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return payload


def receive(stream):
    payload = receive_bytes(stream)
    return None if payload is None else marshal.loads(payload)


def peak_mb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


# --- What calamine does not report, found in the .xlsx sheet part ------------------------------
# Run by the parent while the child parses (see paydash.sheets.reader): formulas with no
# cached value, error cells such as #DIV/0!, and NUL characters, which XML forbids and
# calamine lets through into the text.

_CELL = re.compile(rb"<(?:[\w.-]+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:[\w.-]+:)?c>)", re.DOTALL)
_REF = re.compile(rb'\br\s*=\s*["\']([A-Za-z]{1,3})(\d+)["\']')
_TYPE = re.compile(rb'\bt\s*=\s*["\'](\w+)["\']')
_FORMULA = re.compile(rb"<(?:[\w.-]+:)?f\b")
_VALUE = re.compile(rb"<(?:[\w.-]+:)?v\b[^>]*>([^<]*)<")
_TAG_PREFIX = re.compile(rb"</(?:[\w.-]+:)?$")
# Literal marks found with bytes' own fast search; only a chunk holding one is searched
# cell by cell (a regex that starts at every "<" costs a second per 10,000 rows).
_MARKS = (b"<f", b":f", b'"e"', b"'e'")


def _column_index(letters: bytes) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + char - 64
    return index - 1


class PartScan:
    """Formulas without a cached value and error cells in one sheet part, streamed.

    Only chunks that contain a formula or an error mark are searched cell by cell, so a
    plain sheet costs one inflate and two byte searches per 4 MB.
    """

    def __init__(self):
        self.uncached, self.first_uncached = 0, None
        self.errors: list[tuple[int, int, str]] = []

    def feed(self, piece: bytes) -> None:
        if b"\x00" in piece:
            raise NulInXml
        if not any(mark in piece for mark in _MARKS):
            return
        for match in _CELL.finditer(piece):
            attrs, body = match.group(1), match.group(2) or b""
            kind = _TYPE.search(attrs)
            kind = kind.group(1) if kind else b"n"
            value = _VALUE.search(body)
            if kind == b"e" and value and len(self.errors) < MAX_CELL_ERRORS:
                ref = _REF.search(attrs)
                if ref:
                    self.errors.append((int(ref.group(2)), _column_index(ref.group(1)),
                                        value.group(1).decode("utf-8", "replace")))
            elif _FORMULA.search(body) and kind != b"str" and not (value and value.group(1)):
                self.uncached += 1
                if self.first_uncached is None:
                    ref = _REF.search(attrs)
                    self.first_uncached = (ref.group(1) + ref.group(2)).decode() if ref else "?"


class NulInXml(Exception):
    pass


def check_no_nul(archive: zipfile.ZipFile, part: str) -> None:
    with archive.open(part) as stream:
        while chunk := stream.read(SCAN_CHUNK):
            if b"\x00" in chunk:
                raise NulInXml


def _last_row_end(chunk: bytes) -> int:
    """Where the chunk's last </row> (or </x:row>) ends, so no cell is cut in two; 0 if none."""
    at = len(chunk)
    while (at := chunk.rfind(b"row>", 0, at)) > 0:
        if _TAG_PREFIX.search(chunk, max(0, at - 40), at):
            return at + 4
    return 0


def scan_part(archive: zipfile.ZipFile, part: str) -> PartScan:
    scan, tail = PartScan(), b""
    with archive.open(part) as stream:
        while chunk := stream.read(SCAN_CHUNK):
            chunk = tail + chunk
            end = _last_row_end(chunk)
            scan.feed(chunk[:end])
            tail = chunk[end:]
    scan.feed(tail)
    return scan


# --- The child's loop ---------------------------------------------------------------------------

def _python_value_kind(value):
    if isinstance(value, dt.datetime):
        return "datetime", value.isoformat()
    if isinstance(value, dt.date):
        return "date", value.isoformat()
    if isinstance(value, dt.time):
        return "time", value.isoformat()
    if isinstance(value, dt.timedelta):
        return "timedelta", repr(value.total_seconds())
    return None


class Reader:
    def __init__(self, data: bytes):
        import python_calamine  # noqa: PLC0415  (the child's one dependency)
        self.calamine = python_calamine
        self.data = data
        self.book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        self.rows = None
        self.sheet = None
        self.offset = 0

    def sheets(self) -> list:
        calamine = self.calamine
        return [(meta.name, meta.typ == calamine.SheetTypeEnum.WorkSheet,
                 meta.visible == calamine.SheetVisibleEnum.Visible)
                for meta in self.book.sheets_metadata]

    def open(self, name: str) -> tuple:
        self.rows = None
        # The header search reads the top of a sheet, then the data pass reads it all:
        # the sheet calamine loaded last is kept, so it is parsed once.
        if self.sheet is None or self.sheet.name != name:
            self.sheet = None
            self.sheet = self.book.get_sheet_by_name(name)
        sheet = self.sheet
        height = sheet.total_height if sheet.start else 0
        width = min(sheet.total_width if sheet.start else 0, MAX_COLUMNS)
        if height * max(width, 1) > MAX_CELLS:
            return ("error", "cells", f"{height:,} rows × {width:,} columns")
        self.offset = sheet.start[1] if sheet.start else 0
        self.rows = sheet.iter_rows()
        return ("ok", height)

    def next(self, count: int) -> tuple:
        batch, finished = [], self.rows is None
        pad = [""] * self.offset
        keep = MAX_COLUMNS - self.offset
        for _ in range(count if not finished else 0):
            row = next(self.rows, None)
            if row is None:
                finished = True
                break
            if len(row) > keep:
                row = row[:keep]
            batch.append(pad + row if pad else row)
        if finished:
            self.rows = None
        try:
            payload = marshal.dumps(("rows", batch, [], finished, peak_mb() if finished else 0))
        except ValueError:  # a date or time cell: sent apart, as text
            payload = marshal.dumps(("rows", *self._without_dates(batch), finished,
                                     peak_mb() if finished else 0))
        return payload

    @staticmethod
    def _without_dates(batch: list) -> tuple[list, list]:
        dates = []
        for index, row in enumerate(batch):
            for col, value in enumerate(row):
                kind = _python_value_kind(value)
                if kind:
                    row[col] = ""
                    dates.append((index, col, *kind))
        return batch, dates


def main() -> None:
    import resource  # noqa: PLC0415
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    data = receive_bytes(source)
    if data is None:
        return
    try:
        reader = Reader(data)
        send(sink, ("ok", reader.sheets()))
    except MemoryError:
        send(sink, ("error", "memory", ""))
        return
    except Exception as exc:  # noqa: BLE001  (any calamine error is "unreadable" for HR)
        send(sink, ("error", type(exc).__name__, " ".join(str(exc).split())[:160]))
        return
    del data
    while (request := receive(source)) is not None:
        try:
            if request[0] == "open":
                send(sink, reader.open(request[1]))
            else:
                send_bytes(sink, reader.next(request[1]))
        except MemoryError:
            send(sink, ("error", "memory", ""))
        except Exception as exc:  # noqa: BLE001
            send(sink, ("error", type(exc).__name__, " ".join(str(exc).split())[:160]))


if __name__ == "__main__":
    main()
