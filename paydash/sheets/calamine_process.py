"""A child process that reads one workbook with python-calamine and hands its rows over in batches.

Why a child: calamine (Rust) reads .xlsx, .xls and .ods ten times faster than a Python-level
parser, but it builds a whole sheet in memory before giving its first row (about 2 KB per
23-column row). An .xlsx sheet is therefore given to calamine in slices of rows (see
SlicedSheet), so the child's memory stays flat whatever the number of rows; an .xls or .ods
sheet, or an .xlsx sheet whose XML is not in the plain form slicing needs, is still read
whole. In a child that memory is given back to the system as soon as the read ends, it
never raises the worker's own high-water mark, and an address-space limit (`RLIMIT_AS`)
turns a sheet that would need gigabytes (one stray cell at XFD1048576 makes calamine build
the whole grid) into a clear message instead of a worker killed by the kernel.

The parent (`paydash.sheets.reader`) runs this file as a script with `python -I`, so the
child imports only the standard library and python_calamine — none of Paydash. Messages
both ways are marshal data behind an 8-byte length: marshal, not pickle, so a child that a
hostile file somehow took over still cannot make the parent run code.

Requests and answers (the workbook itself is a memory file the parent writes and passes
as an open descriptor, argv[2], so the child holds no second copy of the package):
- at the start → ("ok", [(name, is_worksheet, visible), ...]) or ("error", kind, detail)
- ("open", name[, part, strings part]) → ("ok", rows): the sheet opened (kept for the next
  "open" of the same name); with the .xlsx sheet's part (and the shared-string part) it is
  read in slices (see SlicedSheet) and `rows` is only the sheet's <dimension> hint
- ("next", count) → ("rows", rows, dates, finished, peak_mb, uncached, first_uncached): up
  to `count` rows from the top of the sheet, cells[0] being column A; `dates` lists (row,
  column, kind, text) for date and time cells, which marshal cannot carry, sent as "" in
  `rows`. For an .xlsx sheet, error cells (#DIV/0!, which calamine reads as empty) come
  as their text, and the last answer counts the formulas with no cached value (see PartScan).
"""
import datetime as dt
import io
import marshal
import re
import struct
import sys
import zipfile
from array import array
from collections.abc import Iterator

HEADER = struct.Struct(">Q")
MAX_COLUMNS = 1024      # cells further right than column AMJ are not read
MAX_CELLS = 40_000_000  # rows × columns that one sheet may span (500,000 × 80)
MAX_CELL_ERRORS = 10_000
SCAN_CHUNK = 4 * 1024 * 1024
SLICE_BYTES = 512 * 1024        # sheet XML per slice calamine reads (~650 template rows)
BODY_CHUNK = 256 * 1024         # inflated sheet XML read at a time while slicing
MAX_HEAD = 8 * 1024 * 1024      # XML before <sheetData> that a sheet may have and still be sliced
WHOLE_AFTER = 8 * SLICE_BYTES   # XML with no numbered row to cut at before the sheet is read whole


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
# Formulas with no cached value, error cells such as #DIV/0!, and NUL characters, which XML
# forbids and calamine lets through into the text. Found here, in the child, as the sheet
# is read: a sliced sheet's XML is scanned slice by slice as it is inflated for calamine
# (the part is inflated once, not once here and once in the parent); a sheet read whole is
# scanned before its first row is sent.

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
        self.errors: dict[tuple[int, int], str] = {}   # (sheet row, column index): its text

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
                    self.errors[int(ref.group(2)), _column_index(ref.group(1))] = \
                        value.group(1).decode("utf-8", "replace")
            elif _FORMULA.search(body) and kind != b"str" and not (value and value.group(1)):
                self.uncached += 1
                if self.first_uncached is None:
                    ref = _REF.search(attrs)
                    self.first_uncached = (ref.group(1) + ref.group(2)).decode() if ref else "?"


    def fix(self, cells: list, number: int) -> None:
        """Put the error texts into row `number`'s cells (calamine leaves them empty)."""
        errors = self.errors
        for col in range(len(cells)):
            text = errors.get((number, col))
            if text is not None:
                cells[col] = text


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


def scan_part(archive: zipfile.ZipFile, part: str, scan: PartScan | None = None) -> PartScan:
    scan, tail = scan or PartScan(), b""
    with archive.open(part) as stream:
        while chunk := stream.read(SCAN_CHUNK):
            chunk = tail + chunk
            end = _last_row_end(chunk)
            scan.feed(chunk[:end])
            tail = chunk[end:]
    scan.feed(tail)
    return scan


# --- An .xlsx sheet read in slices -------------------------------------------------------------
# Calamine has no streaming read: `get_sheet_by_name` builds the whole sheet (a Range of
# ~32-byte cells plus every string) before the first row can be taken, ~2 KB per 23-column
# row. So an .xlsx sheet is given to calamine a slice at a time: the sheet part is inflated
# as a stream and cut at <row> tags every ~2 MB, and each slice becomes a small stored workbook of
# its own (the package's workbook, relationships and styles, so dates and the 1904 flag read
# as before, and the sheet's XML up to <sheetData> followed by the slice's rows). Shared
# strings are not re-parsed per slice: the table is held once as bytes with offsets, and
# each slice's `t="s"` cells are rewritten as inline strings holding the same <si> markup,
# which calamine reads with the same code. The child's memory is then one slice (~512 KB of
# XML) and the string table, whatever the number of rows. What differs from the whole read:
# a row is as wide as the widest row read so far, not the sheet's widest (a cell further
# right in a later slice lengthens the rows from there on; every reader of rows takes a
# missing cell as ""); the cell cap is applied as the slices come, so a sheet past it ends
# in the same message after some rows rather than before; rows out of order across two
# slices (never written by Excel, LibreOffice or openpyxl) end in a message, not a misread;
# `estimate` is the <dimension> hint (or the part's size over the first rows' size), for
# progress only. Where the sheet's XML is not in the plain form this needs (a namespace
# prefix on <sheetData>, on the string table, or a head past MAX_HEAD), the sheet is read
# whole, as .xls and .ods sheets are; so is a sheet whose rows carry no numbers to cut at
# (no cut within WHOLE_AFTER bytes).

_SHEET_DATA = re.compile(rb"<sheetData\s*>")
_EMPTY_SHEET_DATA = re.compile(rb"<sheetData\s*/>")
_DIMENSION = re.compile(rb"<dimension\b[^>]*?/>")
_DIMENSION_END = re.compile(rb"""\bref\s*=\s*["'][A-Za-z]*\d*:?[A-Za-z]*(\d+)["']""")
_ROW_NUMBER = re.compile(rb"""<row\s[^>]*?\br\s*=\s*["']([1-9]\d{0,6})["']""")
MAX_ROW = 1_048_576
_EMPTY_SI = re.compile(rb"<si\s*/>")
_SI_TAG = re.compile(rb"<si[\s/>]")
_SHARED_CELL = re.compile(rb"""<c\s([^>]*?)\bt\s*=\s*["']s["']([^>]*?)(/>|>(.*?)</c>)""", re.DOTALL)
_SHARED_VALUE = re.compile(rb"<v>([^<]*)</v>")
_PLAIN_SHARED = re.compile(rb't="s"><v>(\d{1,19})</v>')
_STYLES = re.compile(rb"""<Relationship\b[^>]*?\bType\s*=\s*["'][^"']*/styles["'][^>]*>""")
_TARGET = re.compile(rb"""\bTarget\s*=\s*["']([^"']+)["']""")
_WORKBOOK_PARTS = ("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml",
                   "xl/_rels/workbook.xml.rels")


class NotSliceable(Exception):
    pass


class NoPlaceToCut(Exception):
    """The sheet's rows carry no numbers to cut at: it is read whole."""


class RowsOutOfOrder(Exception):
    pass


class SharedStrings:
    """The shared-string table held once: the part's bytes and each <si>'s inner markup span."""

    def __init__(self, xml: bytes):
        if b":si>" in xml or b":si " in xml or b"<!--" in xml or b"<![CDATA[" in xml:
            raise NotSliceable("the string table is not in the plain form")
        self.xml = xml
        self.starts, self.ends = array("q"), array("q")
        at = 0
        while (at := xml.find(b"<si", at)) >= 0:
            if xml.startswith(b"<si>", at):
                end = xml.find(b"</si>", at + 4)
                if end < 0:
                    break
                self.starts.append(at + 4)
                self.ends.append(end)
                at = end + 5
            elif (empty := _EMPTY_SI.match(xml, at)):
                self.starts.append(0)
                self.ends.append(0)
                at = empty.end()
            else:
                at += 3
        # Every <si> calamine would count, counted here (one with attributes is not read here).
        if len(self.starts) != len(_SI_TAG.findall(xml)):
            raise NotSliceable("the string table is not in the plain form")

    def inline(self, body: bytes) -> bytes:
        """The slice with each shared-string cell turned into an inline-string cell."""
        xml, starts, ends, count = self.xml, self.starts, self.ends, len(self.starts)

        def plain(match):   # the form Excel writes: t="s" last, then <v>index</v>
            index = int(match.group(1))
            if index >= count or body[match.start() - 1] not in b" \t\r\n":
                return match.group(0)
            return b't="inlineStr"><is>' + xml[starts[index]:ends[index]] + b"</is>"

        body = _PLAIN_SHARED.sub(plain, body)
        if b'"s"' not in body and b"'s'" not in body:
            return body
        return _SHARED_CELL.sub(self._cell, body)

    def _cell(self, match):
        """Any other form of a shared-string cell (attributes after t="s", a formula...)."""
        inner = match.group(4)
        value = _SHARED_VALUE.search(inner) if inner else None
        if value is None or not value.group(1):
            return match.group(0)   # no index: an empty cell, read as it would have been
        # Calamine reads an index that is not plain digits, or past 2**64, as 0.
        index = int(value.group(1)) if value.group(1).isdigit() else 0
        if index >= 1 << 64:
            index = 0
        if index >= len(self.starts):
            return match.group(0)   # calamine refuses it, without a table as with one
        text = self.xml[self.starts[index]:self.ends[index]]
        inner = inner[:value.start()] + b"<is>" + text + b"</is>" + inner[value.end():]
        return b"<c " + match.group(1) + b't="inlineStr"' + match.group(2) + b">" + inner + b"</c>"


class SlicedSheet:
    """One .xlsx worksheet read by calamine in slices of rows (see above)."""

    def __init__(self, calamine, archive: zipfile.ZipFile, name: str, path: str, strings: str,
                 open_book=None):
        self.calamine, self.archive, self.name, self.path = calamine, archive, name, path
        self.open_book = open_book   # calamine's reader of the whole package, for a whole read
        self.strings = None
        if strings and strings in archive.NameToInfo:
            self.strings = SharedStrings(archive.read(strings))
        self.parts = {part: archive.read(part) for part in _WORKBOOK_PARTS
                      if part in archive.NameToInfo}
        rels = self.parts.get("xl/_rels/workbook.xml.rels", b"")
        for rel in _STYLES.findall(rels):
            target = _TARGET.search(rel)
            if target:
                styles = target.group(1).decode("utf-8", "replace")
                styles = styles.lstrip("/") if styles.startswith("/") else "xl/" + styles
                if styles in archive.NameToInfo:
                    self.parts[styles] = archive.read(styles)
        with archive.open(path) as stream:
            head = b""
            while True:
                chunk = stream.read(SCAN_CHUNK)
                head += chunk
                found = _SHEET_DATA.search(head)
                if found or not chunk or len(head) > MAX_HEAD:
                    break
        if not found or _EMPTY_SHEET_DATA.search(head, 0, found.start()):
            raise NotSliceable("no plain <sheetData> near the start")
        if b"\x00" in head[:found.end()]:
            raise NulInXml
        self.head, self.body_start = head[:found.end()], found.end()
        dimension = _DIMENSION.search(self.head)
        self.estimate = 0
        if dimension:
            # A hint for progress only (the rows are counted as they come); taken out of the
            # later slices, or calamine would size every slice's grid for the whole sheet.
            end = _DIMENSION_END.search(dimension.group(0))
            self.estimate = max(0, int(end.group(1)) - 1) if end else 0
            self.head = self.head[:dimension.start()] + self.head[dimension.end():]
        # The first slice keeps it: calamine refuses a sheet whose <dimension> it cannot read.
        self.first_head = head[:found.end()]
        rows_seen = head.count(b"<row", found.end())
        if not self.estimate and rows_seen:   # no hint: the part's size over the first rows'
            per_row = max(1, (len(head) - found.end()) // rows_seen)
            self.estimate = max(0, archive.getinfo(path).file_size // per_row - 1)

    def _bodies(self) -> Iterator[tuple[bytes, bytes]]:
        """The rows of <sheetData> in slices of about SLICE_BYTES, each with the XML that
        closes it: "</sheetData></worksheet>", except the last, which gets the part's own end
        (calamine reads past </sheetData>, and refuses what is broken there). A slice starts
        at a <row> that carries a plain number, as calamine numbers a row without one from
        the row before it: a sheet whose rows carry no numbers is one slice, read whole."""
        with self.archive.open(self.path) as stream:
            buffer = bytearray()
            while len(buffer) < self.body_start:
                chunk = stream.read(BODY_CHUNK)
                if not chunk:
                    break
                buffer += chunk
            del buffer[:self.body_start]
            searched = scanned = 0   # how far </sheetData and a place to cut were looked for
            cut_once = False
            while True:
                chunk = stream.read(BODY_CHUNK)
                buffer += chunk
                end = buffer.find(b"</sheetData", searched)
                if end >= 0 or not chunk:
                    tail = bytes(buffer[end:]) + stream.read() if end >= 0 else b""
                    if end >= 0:
                        del buffer[end:]
                searched = max(0, len(buffer) - 16)
                while len(buffer) > SLICE_BYTES and (cut := self._cut(buffer, max(scanned, SLICE_BYTES))):
                    yield bytes(buffer[:cut]), b"</sheetData></worksheet>"
                    cut_once = True
                    del buffer[:cut]
                    searched, scanned = max(0, searched - cut), 0
                if len(buffer) > SLICE_BYTES:
                    scanned = max(SLICE_BYTES, len(buffer) - 64)   # no numbered row there yet
                    if not cut_once and len(buffer) > WHOLE_AFTER and self.open_book:
                        raise NoPlaceToCut
                if end >= 0 or not chunk:
                    yield bytes(buffer), tail
                    return

    @staticmethod
    def _cut(buffer: bytearray, start: int) -> int:
        """Where the first slice of the buffer ends: at a numbered <row> from `start` on."""
        at = start
        while (at := buffer.find(b"<row", at)) > 0:
            number = _ROW_NUMBER.match(buffer, at)
            if number and int(number.group(1)) <= MAX_ROW:
                return at
            at += 4
        return 0

    def _book(self, body: bytes, tail: bytes = b"</sheetData></worksheet>", first: bool = False) -> bytes:
        if self.strings is not None and b"s" in body:
            body = self.strings.inline(body)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as book:
            for part, content in self.parts.items():
                book.writestr(part, content)
            book.writestr(self.path, (self.first_head if first else self.head) + body + tail)
        return out.getvalue()

    def rows(self, scan: PartScan | None = None) -> Iterator[list]:
        """The sheet's rows from row 1, cells[0] being column A, as `iter_rows` gives them
        after the left padding: each row as wide as the sheet's widest column seen so far.
        Each slice is fed to `scan` before its rows are given."""
        try:
            yield from self._slices(scan)
        except NoPlaceToCut:   # raised before any slice was read, so before any row was given
            if scan is not None:
                scan_part(self.archive, self.path, scan)
            yield from self._whole()

    def _whole(self) -> Iterator[list]:
        """The sheet read whole, as before slicing (and as .xls and .ods sheets are)."""
        sheet = self.open_book().get_sheet_by_name(self.name)
        height = sheet.total_height if sheet.start else 0
        width = min(sheet.total_width if sheet.start else 0, MAX_COLUMNS)
        if height * max(width, 1) > MAX_CELLS:
            raise TooManyCells(f"{height:,} rows × {width:,} columns")
        offset = sheet.start[1] if sheet.start else 0
        pad, keep = [""] * offset, MAX_COLUMNS - offset
        for row in sheet.iter_rows():
            if len(row) > keep:
                row = row[:keep]
            yield pad + row if pad else row

    def _slices(self, scan: PartScan | None) -> Iterator[list]:
        emitted, width, end_col = 0, 0, 0
        for index, (body, tail) in enumerate(self._bodies()):
            if scan is not None:   # slices are cut before a <row>, so no cell is cut in two
                scan.feed(body)
                scan.feed(tail)
            book = self.calamine.CalamineWorkbook.from_filelike(
                io.BytesIO(self._book(body, tail, first=index == 0)))
            sheet = book.get_sheet_by_name(self.name)
            if not sheet.start:
                continue
            (top, left), (bottom, right) = sheet.start, sheet.end
            if top < emitted:
                raise RowsOutOfOrder(f"row {top + 1} comes after row {emitted}")
            end_col = max(end_col, right)
            span = min(end_col, MAX_COLUMNS)
            if bottom * max(span, 1) > MAX_CELLS:   # the whole read's cap, as the rows come
                raise TooManyCells(f"{bottom:,} rows × {span:,} columns")
            width = max(width, min(right + 1, MAX_COLUMNS))
            while emitted < top:
                yield [""] * width
                emitted += 1
            rows = sheet.to_python(skip_empty_area=True)
            if left == 0 and right + 1 == width:    # the common case: rows as they are
                yield from rows
            else:
                pad = [""] * left
                for row in rows:
                    cells = pad + row if left else row
                    if len(cells) < width:
                        cells += [""] * (width - len(cells))
                    elif len(cells) > MAX_COLUMNS:
                        cells = cells[:MAX_COLUMNS]
                    yield cells
            emitted = bottom + 1
            del sheet, book


class TooManyCells(Exception):
    pass


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
    """The child's workbook: `source` is the package's bytes or a path to it (the parent
    hands over a memory file, so the child holds no copy of the package of its own)."""

    def __init__(self, source: bytes | str):
        import python_calamine  # noqa: PLC0415  (the child's one dependency)
        self.calamine = python_calamine
        self.source = source
        self.book = self._open_book()
        self.rows = None
        self.sheet = None
        self.offset = 0
        self._archive = None
        self.sliced = None
        self.scan: PartScan | None = None   # the open .xlsx sheet's (see PartScan)
        self.number = 0                     # rows of the open sheet sent so far

    def _open_book(self):
        if isinstance(self.source, str):
            return self.calamine.CalamineWorkbook.from_path(self.source)
        return self.calamine.CalamineWorkbook.from_filelike(io.BytesIO(self.source))

    def archive(self) -> zipfile.ZipFile:
        if self._archive is None:
            source = self.source
            self._archive = zipfile.ZipFile(source if isinstance(source, str) else io.BytesIO(source))
        return self._archive

    def release(self) -> None:
        """Let go of calamine's whole-workbook reader of an .xlsx (its shared strings and
        styles): sheets are read in slices, and a sheet read whole opens it again."""
        if not isinstance(self.source, str):
            return
        with open(self.source, "rb") as package:
            if package.read(4) != b"PK\x03\x04":    # an .xls: read whole, by calamine
                return
        try:
            xlsx = "xl/workbook.xml" in self.archive().NameToInfo
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            xlsx = False
        if xlsx:
            self.book.close()
            self.book = None

    def sheets(self) -> list:
        calamine = self.calamine
        return [(meta.name, meta.typ == calamine.SheetTypeEnum.WorkSheet,
                 meta.visible == calamine.SheetVisibleEnum.Visible)
                for meta in self.book.sheets_metadata]

    def open(self, name: str, path: str = "", strings: str = "") -> tuple:
        self.rows = None
        self.scan, self.number = (PartScan() if path else None), 0
        if path:  # an .xlsx sheet: read in slices unless its XML is not in the plain form
            try:
                # The header search reads the top of a sheet, then the data pass reads it
                # all: the string table of the sheet opened last is kept.
                if self.sliced is None or self.sliced.name != name:
                    self.sliced = None
                    self.sliced = SlicedSheet(self.calamine, self.archive(), name, path, strings,
                                              self._open_book)
            except NotSliceable:
                pass
            else:
                self.sheet, self.offset = None, 0
                self.rows = self.sliced.rows(self.scan)
                return ("ok", self.sliced.estimate)
        # The header search reads the top of a sheet, then the data pass reads it all:
        # the sheet calamine loaded last is kept, so it is parsed once.
        if self.sheet is None or self.sheet.name != name:
            self.sheet = None
            if self.book is None:
                self.book = self._open_book()
            self.sheet = self.book.get_sheet_by_name(name)
        sheet = self.sheet
        height = sheet.total_height if sheet.start else 0
        width = min(sheet.total_width if sheet.start else 0, MAX_COLUMNS)
        if height * max(width, 1) > MAX_CELLS:
            return ("error", "cells", f"{height:,} rows × {width:,} columns")
        if path:   # an .xlsx sheet read whole: its part is scanned before any row is sent
            scan_part(self.archive(), path, self.scan)
        self.offset = sheet.start[1] if sheet.start else 0
        self.rows = sheet.iter_rows()
        return ("ok", height)

    def next(self, count: int) -> tuple:
        batch, finished = [], self.rows is None
        pad = [""] * self.offset
        keep = MAX_COLUMNS - self.offset
        scan = self.scan
        for _ in range(count if not finished else 0):
            row = next(self.rows, None)
            if row is None:
                finished = True
                break
            if len(row) > keep:
                row = row[:keep]
            cells = pad + row if pad else row
            self.number += 1
            if scan is not None and scan.errors:
                scan.fix(cells, self.number)
            batch.append(cells)
        if finished:
            self.rows = None
        end = (peak_mb() if finished else 0,
               *((scan.uncached, scan.first_uncached) if finished and scan else (0, None)))
        try:
            payload = marshal.dumps(("rows", batch, [], finished, *end))
        except ValueError:  # a date or time cell: sent apart, as text
            payload = marshal.dumps(("rows", *self._without_dates(batch), finished, *end))
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
    path = f"/proc/self/fd/{int(sys.argv[2])}"   # the package, in the parent's memory file
    try:
        reader = Reader(path)
        send(sink, ("ok", reader.sheets()))
        reader.release()
    except MemoryError:
        send(sink, ("error", "memory", ""))
        return
    except Exception as exc:  # noqa: BLE001  (any calamine error is "unreadable" for HR)
        send(sink, ("error", type(exc).__name__, " ".join(str(exc).split())[:160]))
        return
    while (request := receive(source)) is not None:
        try:
            if request[0] == "open":
                send(sink, reader.open(*request[1:]))
            else:
                send_bytes(sink, reader.next(request[1]))
        except MemoryError:
            send(sink, ("error", "memory", ""))
        except TooManyCells as exc:
            reader.rows = None
            send(sink, ("error", "cells", str(exc)))
        except RowsOutOfOrder as exc:
            reader.rows = None
            send(sink, ("error", "order", str(exc)))
        except NulInXml:
            reader.rows = None
            send(sink, ("error", "nul", ""))
        except Exception as exc:  # noqa: BLE001
            send(sink, ("error", type(exc).__name__, " ".join(str(exc).split())[:160]))


if __name__ == "__main__":
    main()
