"""Read the rows of an .xlsx, .xls or .ods worksheet with python-calamine (pure: bytes in, rows out).

The parsing is calamine's (Rust, well kept, ten times faster than a Python-level parser);
this module keeps the guards around it. Before calamine sees a byte of a zip workbook:
entry count, encrypted entries, and every part's XML prolog inspected with expat, so a
DTD (entity expansion, external entities) is refused outright. Calamine then runs in a
child process (`paydash.sheets.calamine_process`) under an address-space limit and a cap
on the cells a sheet may span, and rows come back in batches: the worker's own memory
stays flat whatever the sheet's size or shape, and a sheet that would need gigabytes ends
in a message. The child reads an .xlsx sheet in slices of rows (so its own memory stays
flat too) from a memory file holding the package (`Package`), not from a copy of its own;
the worker reads the package's structure through the same file. What calamine does not
report (formulas with no cached value, error cells, NUL characters) is found by the child
too, by a byte scan of the sheet's XML as it reads it.
"""
import datetime as dt
import io
import logging
import marshal
import os
import posixpath
import re
import select
import subprocess
import sys
import tempfile
import time
import weakref
import zipfile
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from xml.parsers import expat

from defusedxml import ElementTree

from paydash.sheets import calamine_process
from paydash.sheets.filecheck import ZIP_ERRORS

logger = logging.getLogger(__name__)

REL_NAMESPACES = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
                  "http://purl.oclc.org/ooxml/officeDocument/relationships")
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
MAX_COLUMNS = calamine_process.MAX_COLUMNS
MAX_ENTRIES = 2000
CHUNK = 64 * 1024
# Rows per answer from the child. The worker holds the batch it is handling and, as they
# hand over, the next one read ahead: about 2 KB per 23-column row each. 2048 rows cost
# no more CPU than 4096 did (issue 18, fifth pass) and keep 4 MB less in the worker.
BATCH_ROWS = 2048
FIRST_BATCH_ROWS = 64           # the header search reads a few rows of each sheet
CHILD_MEMORY = 3 << 30          # address space of the reading child (≈ 1.4 GB of sheet)
CHILD_TIMEOUT = 600             # seconds one answer from the child may take

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CHILD_SCRIPT = calamine_process.__file__
_DTD = re.compile(rb"<!\s*(doctype|entity)", re.IGNORECASE)
_ZIP_ERRORS = (*ZIP_ERRORS, KeyError)
_UTF16_DECLARATION = re.compile(r"""encoding\s*=\s*["']utf-?16(le|be)?["']""", re.IGNORECASE)
_DATES = {"datetime": dt.datetime.fromisoformat, "date": dt.date.fromisoformat,
          "time": dt.time.fromisoformat,
          "timedelta": lambda text: dt.timedelta(seconds=float(text))}


class WorkbookUnreadable(Exception):
    """The bytes are not a workbook Paydash can read; `message` is for HR."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class SheetInfo:
    name: str
    path: str
    visible: bool



def unreadable(detail: str) -> WorkbookUnreadable:
    return WorkbookUnreadable(
        f"This file could not be read as an Excel workbook ({detail}). Open it in Excel, use "
        "File › Save As › Excel Workbook (.xlsx), and upload it again.")


def too_large(sheet: str, detail: str = "") -> WorkbookUnreadable:
    span = f" (it spans {detail})" if detail else ""
    return WorkbookUnreadable(
        f"Sheet '{sheet}' is too large to read{span}. This usually means a stray value or "
        "formatting far below or to the right of the salary rows. Delete the empty rows and "
        "columns after the data (or copy the salary rows into a new workbook), save, and "
        "upload again.")


class Package:
    """A workbook's bytes in a memory file (an anonymous file, no disk), read from there.

    The reading child opens the same file, so it needs no copy of its own, and the worker
    reads the package's structure through it too: once a caller lets go of the bytes it
    gave (as the import task does), the worker's own memory holds no copy of the workbook
    while its rows are read (13 MB at 100,000 rows, 64 MB at 500,000). The file's pages are
    the kernel's, not the worker's resident memory; they go when the package is collected.

    `data` is the bytes, or an iterable of pieces of them: a workbook read from the database
    a piece at a time never lies whole in the worker's memory (see `services/imports.py`).
    """

    def __init__(self, data: "bytes | Iterable[bytes]"):
        self.file = _memory_file()
        try:
            for piece in ((data,) if isinstance(data, (bytes, bytearray, memoryview)) else data):
                self.file.write(piece)
        except BaseException:
            self.file.close()
            raise
        self.file.flush()
        self._close = weakref.finalize(self, self.file.close)

    def head(self, count: int) -> bytes:
        return os.pread(self.file.fileno(), count, 0)

    def zip(self) -> zipfile.ZipFile:
        # Each ZipFile on the one file object seeks before each read of its own.
        return zipfile.ZipFile(self.file)

    def fileno(self) -> int:
        return self.file.fileno()

    def close(self) -> None:
        self._close()


class Workbook:
    """A workbook (.xlsx, .xls or .ods) opened for reading: its worksheets and a row reader.

    Given bytes, it keeps them in a `Package` of its own; given a Package, it reads that."""

    def __init__(self, data: "bytes | Package"):
        package = data if isinstance(data, Package) else Package(data)
        self.kind = _kind(package)
        self.archive = None
        self._package, self._child, self._strings = package, None, ""
        try:
            if self.kind != "xls":
                self.archive = package.zip()
                utf16 = _check_parts(self.archive)
                if utf16:
                    self._package = Package(_utf8_package(self.archive, utf16))
            self._extra_parts = ["content.xml"] if self.kind == "ods" else []
            if self.kind == "xlsx":
                self.sheets, strings = self._read_structure()
                self._extra_parts = [strings] if strings else []
                self._strings = strings or ""
        except WorkbookUnreadable:
            raise
        except (*_ZIP_ERRORS, expat.ExpatError, ElementTree.ParseError, _Refused) as exc:
            raise unreadable(_short(exc)) from None
        if self.kind != "xlsx":
            self.sheets = [SheetInfo(name, "", visible)
                           for name, worksheet, visible in self._reader().sheets if worksheet]

    @property
    def visible(self) -> list[SheetInfo]:
        return [sheet for sheet in self.sheets if sheet.visible]

    @property
    def hidden(self) -> list[SheetInfo]:
        return [sheet for sheet in self.sheets if not sheet.visible]

    @property
    def has_external_links(self) -> bool:
        return self.kind == "xlsx" and any(
            name.startswith("xl/externalLinks/") for name in self.archive.namelist())

    def rows(self, sheet: SheetInfo) -> "SheetStream":
        """The sheet's rows, in batches from the reading child; see SheetStream."""
        return SheetStream(self, sheet)

    def _check_shared_parts(self) -> None:
        """No NUL in the parts every sheet reads (shared strings, an .ods's content), once.

        A sheet's own part is scanned by the child as it reads it (PartScan)."""
        if self._extra_parts:
            archive = self._package.zip()
            for part in self._extra_parts:
                if part in archive.NameToInfo:
                    calamine_process.check_no_nul(archive, part)
            self._extra_parts = []

    def _reader(self) -> "_Child":
        if self._child is None:
            self._child = _Child(self._package)
            weakref.finalize(self, self._child.stop)
        return self._child

    def _read_structure(self) -> tuple[list[SheetInfo], str | None]:
        book = ElementTree.fromstring(self.archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(self.archive.read("xl/_rels/workbook.xml.rels"))
        targets, strings_path = {}, None
        for rel in rels.iter(PKG_REL + "Relationship"):
            kind = rel.get("Type", "").rsplit("/", 1)[-1]
            path = _resolve(rel.get("Target", ""))
            if kind == "worksheet":
                targets[rel.get("Id")] = path
            elif kind == "sharedStrings":
                strings_path = path
        sheets = []
        for element in book.iter():
            if not element.tag.endswith("}sheet"):
                continue
            rel_id = next((element.get(f"{{{ns}}}id") for ns in REL_NAMESPACES
                           if element.get(f"{{{ns}}}id")), None)
            if rel_id in targets:  # chart sheets and dialog sheets have no rows to read
                sheets.append(SheetInfo(element.get("name", ""), targets[rel_id],
                                        element.get("state", "visible") == "visible"))
        return sheets, strings_path


class SheetStream:
    """Iterates (sheet row number, cells) — cells[0] is column A, empty cells are "".

    Numbers come as float (whole numbers from .xls/.ods may come as int), text as str,
    booleans as bool, dates and times as datetime objects, cell errors as str ("#DIV/0!",
    .xlsx only: calamine gives .xls/.ods errors as empty cells). Once the stream has ended,
    `uncached` counts the sheet's formula cells with no cached value (Excel and calamine
    read those as empty) and `first_uncached` is the first one's address. `estimate_rows()` is the sheet's row count
    once the stream has started.
    """

    def __init__(self, workbook: Workbook, sheet: SheetInfo):
        self.workbook, self.sheet = workbook, sheet
        self.uncached, self.first_uncached = 0, None
        self.rows_read, self._total = 0, 0
        if workbook.kind == "xlsx" and sheet.path not in workbook.archive.NameToInfo:
            raise unreadable(f"sheet '{sheet.name}' is missing from the file")

    def estimate_rows(self) -> int:
        return max(self.rows_read, self._total)

    def __iter__(self) -> Iterator[tuple[int, list]]:
        child = self.workbook._reader()
        started = time.perf_counter()
        child.ask_open(self.sheet, self.workbook._strings)
        try:  # while the child opens the sheet
            self.workbook._check_shared_parts()
            problem = None
        except calamine_process.NulInXml:
            problem = _nul()
        except _ZIP_ERRORS as exc:
            problem = unreadable(f"sheet '{self.sheet.name}': {_short(exc)}")
        self._total = child.opened(self.sheet)
        if problem:
            raise problem
        number, size, finished = 0, FIRST_BATCH_ROWS, False
        child.ask_next(self.sheet, size)
        while not finished:
            rows, dates, finished, peak, uncached, first = child.take_next(self.sheet)
            # From the second batch on, the child reads the next batch while this one is
            # handled here (the two took turns before, each idle half the time). The first,
            # small batch is not read ahead of: the header search stops inside it.
            ahead = not finished and size == BATCH_ROWS
            if ahead:
                child.ask_next(self.sheet, size)
            for index, col, kind, text in dates:
                rows[index][col] = _DATES[kind](text)
            if finished:
                self.uncached, self.first_uncached = uncached, first
            for cells in rows:
                number += 1
                self.rows_read += 1
                yield number, cells
            if not finished and not ahead:
                size = BATCH_ROWS
                child.ask_next(self.sheet, size)
        logger.info("sheet read in a child process: %d rows, peak %d MB, %.2f s",
                    self.rows_read, peak, time.perf_counter() - started)


class _Child:
    """The reading child process and its requests (see paydash.sheets.calamine_process)."""

    def __init__(self, package: Package):
        # The package goes to the child as its memory file, which it reads parts from on
        # demand, rather than down the pipe: the child then holds no copy of its own
        # (calamine's reader would add another), only the slice it is reading.
        self.process = subprocess.Popen(
            [sys.executable, "-I", _CHILD_SCRIPT, str(CHILD_MEMORY), str(package.fileno())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            pass_fds=(package.fileno(),))
        self._pending: str | None = None   # the sheet a batch was asked of and not taken
        answer = self._answer("")
        self.sheets = answer[1]

    def ask_open(self, sheet: SheetInfo, strings: str = "") -> None:
        # An .xlsx sheet (it has a part) is read in slices by the child; see SlicedSheet.
        request = ("open", sheet.name, sheet.path, strings) if sheet.path else ("open", sheet.name)
        self._ask(request, sheet.name)

    def opened(self, sheet: SheetInfo) -> int:
        """The answer to `ask_open`: the sheet's row count."""
        return self._answer(sheet.name)[1]

    def ask_next(self, sheet: SheetInfo, count: int) -> None:
        """Ask for the sheet's next `count` rows; `take_next` reads the answer."""
        self._ask(("next", count), sheet.name)
        self._pending = sheet.name

    def take_next(self, sheet: SheetInfo) -> tuple:
        """(rows, dates, finished, peak MB, uncached formulas, the first's address): the
        answer to `ask_next` (the last two are the sheet's once `finished`)."""
        self._pending = None
        return self._answer(sheet.name)[1:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            if self._pending is not None:
                # A batch read ahead that nobody took: closing our end makes the child's
                # write of it fail, so it ends now instead of blocking until killed.
                self.process.stdout.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()

    def _ask(self, request: tuple, sheet: str) -> None:
        if self._pending is not None:
            self._drop_pending()
        try:
            calamine_process.send(self.process.stdin, request)
        except (BrokenPipeError, OSError):
            raise self._gone(sheet) from None

    def _drop_pending(self) -> None:
        """Read and drop a batch read ahead that nobody took (its reader stopped early)."""
        sheet, self._pending = self._pending, None
        try:
            self._answer(sheet)
        except WorkbookUnreadable:
            pass   # the child's error was for rows nobody wants; a child gone shows next

    def _answer(self, sheet: str) -> tuple:
        stdout = self.process.stdout
        ready, _, _ = select.select([stdout], [], [], CHILD_TIMEOUT)
        if not ready:
            self.process.kill()
            raise unreadable(f"reading sheet '{sheet}' took over {CHILD_TIMEOUT // 60} minutes"
                             if sheet else f"opening it took over {CHILD_TIMEOUT // 60} minutes")
        payload = calamine_process.receive_bytes(stdout)
        if payload is None:
            raise self._gone(sheet)
        answer = marshal.loads(payload)
        if answer[0] == "error":
            raise _error(answer[1], answer[2], sheet)
        return answer

    def _gone(self, sheet: str) -> WorkbookUnreadable:
        try:
            code = self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        logger.warning("the sheet reader's child process ended with %s", code)
        # Killed by a signal (the allocator aborting at the address-space limit) or out of memory.
        return too_large(sheet or "1") if code and code < 0 else unreadable("the reader stopped")


def _memory_file():
    if hasattr(os, "memfd_create"):
        return os.fdopen(os.memfd_create("paydash-workbook", os.MFD_CLOEXEC), "w+b")
    return tempfile.TemporaryFile()


def _error(kind: str, detail: str, sheet: str) -> WorkbookUnreadable:
    if kind in ("memory", "cells"):
        return too_large(sheet or "1", detail)
    if kind == "nul":
        return _nul()
    if kind == "order":
        return unreadable(f"sheet '{sheet}' has its rows out of order: {detail}")
    if kind == "PasswordError":
        return WorkbookUnreadable(
            "This workbook is password-protected, so Paydash cannot read it. Open it, remove "
            "the password, save it, and upload it again.")
    if kind == "WorksheetNotFound":
        return unreadable(f"sheet '{sheet}' is missing from the file")
    return unreadable(f"sheet '{sheet}': {detail}" if sheet else detail or kind)


def _nul() -> WorkbookUnreadable:
    return unreadable("it contains a NUL character, which XML forbids")


def _kind(package: Package) -> str:
    head = package.head(8)
    if head == _OLE:
        return "xls"
    if head[:4] != b"PK\x03\x04" and head[:4] != b"PK\x05\x06":
        raise unreadable("it is neither a zip package nor an Excel 97-2003 file")
    try:
        with package.zip() as archive:
            names = set(archive.namelist())
    except ZIP_ERRORS as exc:
        raise unreadable(_short(exc)) from None
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "content.xml" in names and "mimetype" in names:
        return "ods"
    raise unreadable("it has no workbook part")


def _check_parts(archive: zipfile.ZipFile) -> list[str]:
    """The guards that hold before calamine sees the package: entries, encryption, DTDs.

    Returns the parts written in UTF-16, which calamine cannot read (Excel never writes
    them, but they are valid XML): the child gets a copy of the package with those parts
    in UTF-8.
    """
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        raise unreadable(f"it has {len(entries):,} parts")
    utf16 = []
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise unreadable("its parts are encrypted")
        if _check_prolog(archive, entry)[:2] in (b"\xff\xfe", b"\xfe\xff"):
            utf16.append(entry.filename)
    return utf16


def _utf8_package(archive: zipfile.ZipFile, names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as copy:
        for entry in archive.infolist():
            part = archive.read(entry)
            if entry.filename in names:
                text = _UTF16_DECLARATION.sub('encoding="UTF-8"', part.decode("utf-16"), count=1)
                part = text.encode("utf-8")
            copy.writestr(entry.filename, part)
    return buffer.getvalue()


def _check_prolog(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bytes:
    """Refuse a DTD in the part's XML prolog (parsed only up to the root element); its head."""
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.StartElementHandler = _root_reached
    head = b""
    with archive.open(entry) as stream:
        try:
            while chunk := stream.read(CHUNK):
                if len(head) < CHUNK:
                    head += chunk[:CHUNK]
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        except _RootReached:
            return head
        except expat.ExpatError:
            # Not XML expat can read (a picture, or a broken part calamine will refuse):
            # still refuse anything that declares a DTD near the start, in any encoding.
            for text in (head, head.decode("utf-16", "ignore").encode(),
                         head.decode("utf-16-be", "ignore").encode()):
                if _DTD.search(text):
                    raise _Refused("it declares a DTD, which Excel never writes") from None
    return head


class _RootReached(Exception):
    pass


def _root_reached(*_args):
    raise _RootReached


class _Refused(Exception):
    pass


def _refuse_doctype(*_args):
    # A workbook never declares a DTD; one here is an entity attack, not a spreadsheet.
    raise _Refused("it holds hidden instructions that Excel never writes")


def _resolve(target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join("xl", target))


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:160] or type(exc).__name__
