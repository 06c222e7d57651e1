"""Stream the rows of an .xlsx worksheet with expat, in bounded memory (pure).

Why not python-calamine or openpyxl: calamine (Rust) parses fast but builds the whole
sheet as one dense grid — about 170 MB more at 100,000 rows × 23 columns, and gigabytes
for a sheet with one cell at A1 and one at XFD1048576 — and openpyxl's read-only mode is
several times slower than this. Expat (C) hands us one row at a time: memory stays flat
whatever the sheet's shape, and formulas without a cached value are seen in the same pass.
DTDs are refused outright, which closes entity expansion and external entities.
"""
import io
import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from xml.parsers import expat

from defusedxml import ElementTree

from paydash.sheets.headers import column_letter

REL_NAMESPACES = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
                  "http://purl.oclc.org/ooxml/officeDocument/relationships")
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
MAX_COLUMNS = 1024      # cells further right than column AMJ are not read
CHUNK = 64 * 1024

_ROW, _CELL, _VALUE, _TEXT, _FORMULA, _INLINE, _PHONETIC = range(7)
_LOCAL_TAGS = {"row": _ROW, "c": _CELL, "v": _VALUE, "t": _TEXT, "f": _FORMULA, "is": _INLINE,
               "rPh": _PHONETIC}
_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?worksheet\b")
_COLUMN_CACHE: dict[str, int] = {}


def _tags_for(head: bytes) -> dict[str, int]:
    """Element names as this file spells them: "c", or "x:c" when the file uses a prefix.

    Expat runs without namespace processing because that is a third faster; the prefix
    the worksheet element uses is the one its cells use.
    """
    match = _ROOT.search(head)
    prefix = match.group(1).decode() if match and match.group(1) else ""
    return {prefix + name: tag for name, tag in _LOCAL_TAGS.items()}


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


class _Refused(Exception):
    pass


def unreadable(detail: str) -> WorkbookUnreadable:
    return WorkbookUnreadable(
        f"This file could not be read as an Excel workbook ({detail}). Open it in Excel, use "
        "File › Save As › Excel Workbook (.xlsx), and upload it again.")


class Workbook:
    """An .xlsx opened for streaming: its worksheets, shared strings, and a row reader."""

    def __init__(self, data: bytes):
        try:
            self.archive = zipfile.ZipFile(io.BytesIO(data))
            self.sheets, strings_path = self._read_structure()
            self.strings = self._read_shared_strings(strings_path)
        except WorkbookUnreadable:
            raise
        except (zipfile.BadZipFile, KeyError, zlib.error, EOFError, ValueError,
                expat.ExpatError, ElementTree.ParseError, _Refused) as exc:
            raise unreadable(_short(exc)) from None

    @property
    def visible(self) -> list[SheetInfo]:
        return [sheet for sheet in self.sheets if sheet.visible]

    @property
    def hidden(self) -> list[SheetInfo]:
        return [sheet for sheet in self.sheets if not sheet.visible]

    @property
    def has_external_links(self) -> bool:
        return any(name.startswith("xl/externalLinks/") for name in self.archive.namelist())

    def rows(self, sheet: SheetInfo) -> "SheetStream":
        """The sheet's rows, streamed; see SheetStream."""
        return SheetStream(self, sheet)

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

    def _read_shared_strings(self, path: str | None) -> list[str]:
        if not path or path not in self.archive.NameToInfo:
            return []
        strings, parts, state = [], [], {"depth": 0, "in_text": False}

        def start(name, _attrs):
            local = name.rsplit(" ", 1)[-1]
            if local == "rPh":
                state["depth"] += 1
            elif local == "t" and not state["depth"]:
                state["in_text"] = True
            elif local == "si":
                parts.clear()

        def end(name):
            local = name.rsplit(" ", 1)[-1]
            if local == "rPh":
                state["depth"] -= 1
            elif local == "t":
                state["in_text"] = False
            elif local == "si":
                strings.append("".join(parts))

        def text(data):
            if state["in_text"]:
                parts.append(data)

        parser = _parser(start, end, text, namespaces=True)
        with self.archive.open(path) as stream:
            while chunk := stream.read(CHUNK):
                parser.Parse(chunk, False)
        parser.Parse(b"", True)
        return strings


class SheetStream:
    """Iterates (sheet row number, cells) — cells[0] is column A, empty cells are "".

    Numbers come as float, text as str, booleans as bool, cell errors as str ("#DIV/0!").
    `uncached` counts formula cells seen so far with no cached value (calamine and Excel
    read those as empty); `first_uncached` is the first one's address. `estimate_rows()`
    guesses the sheet's row count from how far through its XML the stream is.
    """

    def __init__(self, workbook: Workbook, sheet: SheetInfo):
        self.workbook, self.sheet = workbook, sheet
        self.uncached, self.first_uncached = 0, None
        self.rows_read, self._consumed = 0, 0
        try:
            self._size = workbook.archive.getinfo(sheet.path).file_size
        except KeyError:
            raise unreadable(f"sheet '{sheet.name}' is missing from the file") from None

    def estimate_rows(self) -> int:
        if not self._consumed:
            return self.rows_read
        return max(self.rows_read, round(self.rows_read * self._size / self._consumed))

    def __iter__(self) -> Iterator[tuple[int, list]]:
        done: list[tuple[int, list]] = []
        try:
            with self.workbook.archive.open(self.sheet.path) as stream:
                chunk = stream.read(CHUNK)
                parser = _parser(*self._handlers(done, _tags_for(chunk)))
                while chunk:
                    parser.Parse(chunk, False)
                    self._consumed += len(chunk)
                    if done:
                        self.rows_read += len(done)
                        yield from done
                        done.clear()
                    chunk = stream.read(CHUNK)
                parser.Parse(b"", True)
        except (expat.ExpatError, zipfile.BadZipFile, zlib.error, EOFError, _Refused) as exc:
            raise unreadable(f"sheet '{self.sheet.name}': {_short(exc)}") from None
        self.rows_read += len(done)
        yield from done

    def _handlers(self, done: list, tags: dict):
        """Expat callbacks that build one row list at a time (the hot loop of an import)."""
        strings = self.workbook.strings
        columns = _COLUMN_CACHE
        row: list = []
        texts: list[str] = []
        row_number, col, kind, formula, collect, phonetic = 0, -1, None, False, False, 0

        def start(name, attrs):
            nonlocal row_number, col, kind, formula, collect, phonetic
            tag = tags.get(name)
            if tag is None:
                return
            if tag == _CELL:
                ref = attrs.get("r")
                if ref:
                    letters = ref.rstrip("0123456789")
                    col = columns.get(letters)
                    if col is None:
                        col = columns[letters] = _column_index(letters) if len(letters) < 4 else -1
                else:
                    col += 1
                kind = attrs.get("t")
                formula = False
                texts.clear()
            elif tag == _VALUE:
                collect = True
            elif tag == _TEXT:
                collect = not phonetic
            elif tag == _ROW:
                number = attrs.get("r")
                row_number = int(number) if number and number.isdigit() else row_number + 1
                col = -1
                row.clear()
            elif tag == _FORMULA:
                formula = True
            elif tag == _PHONETIC:
                phonetic += 1

        def end(name):
            nonlocal collect, phonetic
            tag = tags.get(name)
            if tag is None:
                return
            if tag == _CELL:
                if 0 <= col < MAX_COLUMNS:
                    raw = "".join(texts) if texts else ""
                    if formula and not raw and kind != "str":
                        self._uncached(col, row_number)
                    _place(row, col, _cell_value(kind, raw, strings))
            elif tag == _VALUE or tag == _TEXT:
                collect = False
            elif tag == _ROW:
                done.append((row_number, row.copy()))
            elif tag == _PHONETIC:
                phonetic -= 1

        def text(data):
            if collect:
                texts.append(data)

        return start, end, text

    def _uncached(self, col: int, row_number: int) -> None:
        self.uncached += 1
        if self.first_uncached is None:
            self.first_uncached = f"{column_letter(col)}{row_number}"


def _place(row: list, col: int, value) -> None:
    if col == len(row):
        row.append(value)
    elif col > len(row):
        row.extend([""] * (col - len(row)))
        row.append(value)
    else:
        row[col] = value


def _cell_value(kind: str | None, raw: str, strings: list):
    if kind is None or kind == "n":
        if not raw:
            return ""
        try:
            return float(raw)
        except ValueError:
            return raw
    if kind == "s":
        try:
            return strings[int(raw)]
        except (ValueError, IndexError):
            return ""
    if kind == "b":
        return raw.strip() == "1"
    return raw  # inlineStr, str (formula text), e (#N/A...), d (ISO date)


def _parser(start, end, text, namespaces: bool = False):
    parser = expat.ParserCreate(namespace_separator=" " if namespaces else None)
    parser.buffer_text = True
    parser.buffer_size = CHUNK
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    return parser


def _refuse_doctype(*_args):
    # A workbook never declares a DTD; one here is an entity attack, not a spreadsheet.
    raise _Refused("it holds hidden instructions that Excel never writes")


def _column_index(ref: str) -> int:
    index = 0
    for char in ref:
        code = ord(char)
        if 65 <= code <= 90:
            index = index * 26 + code - 64
        elif 97 <= code <= 122:
            index = index * 26 + code - 96
        else:
            break
    return index - 1


def _resolve(target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join("xl", target))


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:160] or type(exc).__name__
