"""Validated salary rows kept on the upload between the preview and HR's confirmation (pure).

Validation stages the rows it accepted (`Upload.staged_rows`, an `UploadBlob`) so the
commit inserts them instead of parsing the workbook a second time. No file on disk: web and
worker may run on different machines, and no salary row exists until HR confirms.

Format 2 (written now): one header line, `PDROWS2 <workbook sha256> <rows> <HMAC>`, then one
frame per batch of rows: its length (4 bytes, big-endian) and the batch, marshalled and
compressed with zlib. A batch is stored by column: one list per text column, then each
number column as its Decimals' own text joined by "|" (`str(Decimal)` and back is exact,
exponent included: `Decimal("5")` stays `Decimal("5")`, `Decimal("5.00")` stays
`Decimal("5.00")`; "None" stands for None). By column because that is what is cheap in
Python. The HMAC (SHA-256, keyed with the app's secret key) covers the workbook's hash,
the row count and every frame, and is checked before anything is unmarshalled: marshal
is only safe on data Paydash wrote itself, and only a holder of the key can write a blob
that passes. Marshal, not JSON, because it is what made staging cheap enough to matter
(issue 18: JSON was a third of staging's time and the commit's number-text check another
0.16 s per 100,000 rows, which authenticated text no longer needs).

Format 1 (`PDROWS1 <sha256> <rows> <crc32>`, then a zlib stream of JSON lines) is what the
releases before wrote; such a blob, staged before an upgrade, is still read, with its
number texts checked as before.

A blob that does not match a format, the upload's workbook, the key or its own checksum
raises `StagedRowsUnusable`; the caller then reads the workbook again.
"""
import hmac
import json
import marshal
import re
import struct
import zlib
from collections.abc import Iterable
from collections.abc import Iterator
from decimal import Decimal
from operator import itemgetter

from paydash.sheets.rows import NUMBER_FIELDS

MAGIC = b"PDROWS2"
MAGIC_V1 = b"PDROWS1"
TEXT_COLUMNS = ("sheet_row", "employee_key", "employee_code", "employee_name", "department",
                "designation", "extra")
NUMBER_COLUMNS = tuple(NUMBER_FIELDS)
COLUMNS = TEXT_COLUMNS + NUMBER_COLUMNS
BATCH = 1000
CHUNK = 1 << 20   # compressed bytes inflated at a time (format 1)
MARSHAL_VERSION = 4   # read by every Python 3 since 3.4: a worker on another Python reads it
_FRAME = struct.Struct(">I")
_NUMBERS_AT = len(TEXT_COLUMNS)
_KEYS = frozenset(COLUMNS)
_NUMBER_TYPES = {Decimal, type(None)}
# A number column as format 1 wrote it: finite Decimals' own text, or None, joined by "|".
# Checked before such text is handed on unparsed (`decode_columns(numbers_as_text=True)`);
# format 2's text is authenticated instead.
_DECIMAL_TEXT = r"-?[0-9]+(?:\.[0-9]+)?(?:E[-+][0-9]+)?|None"   # not \d: that takes "١٢" too
_NUMBER_TEXTS = re.compile(rf"(?:{_DECIMAL_TEXT})(?:\|(?:{_DECIMAL_TEXT}))*")


class StagedRowsUnusable(Exception):
    """The staged blob cannot be trusted (old format, another workbook, damaged)."""


class RowStager:
    """Collects rows as a staged blob, batch by batch, so memory holds only compressed bytes.

    `add` never raises: a row that cannot be staged (a column this module does not know,
    a number that is not a Decimal, a value marshal cannot keep) stops the staging and
    `blob()` returns None, so the commit reads the workbook again instead of losing the field.
    `secret` is the app's secret key, which the blob's HMAC is keyed with.
    """

    def __init__(self, sha256: str, secret: bytes):
        self.sha256 = sha256
        self.problem: str | None = None
        self._mac = _mac(secret, sha256)
        self._parts: list[bytes] = []
        self._batch: list[dict] = []
        self._count = 0

    def add(self, record: dict) -> None:
        if self.problem is not None:
            return
        if record.keys() != _KEYS:
            self._give_up(f"a row with columns {sorted(record)}")
            return
        self._batch.append(record)
        self._count += 1
        if len(self._batch) >= BATCH:
            self._pack()

    def blob(self) -> bytes | None:
        """The staged blob of every row added, or None if staging gave up."""
        if self._batch:
            self._pack()
        if self.problem is not None:
            return None
        body = b"".join(self._parts)
        self._parts = []
        self._mac.update(b"%d" % self._count)
        header = b"%s %s %d %s\n" % (MAGIC, self.sha256.encode("ascii"), self._count,
                                      self._mac.hexdigest().encode("ascii"))
        return header + body

    def _pack(self) -> None:
        try:
            payload = marshal.dumps(_batch_columns(self._batch), MARSHAL_VERSION)
        except (TypeError, ValueError) as exc:
            self._give_up(str(exc))
            return
        frame = zlib.compress(payload, 1)   # level 1: a third of level 6's time, 25% bigger
        part = _FRAME.pack(len(frame)) + frame
        self._mac.update(part)
        self._parts.append(part)
        self._batch = []

    def _give_up(self, problem: str) -> None:
        self.problem = problem
        self._parts, self._batch = [], []


def encode_rows(rows: Iterable[dict], sha256: str, secret: bytes) -> bytes | None:
    """The rows as a staged blob for the workbook whose hash is `sha256` (None: unstageable)."""
    stager = RowStager(sha256, secret)
    for record in rows:
        stager.add(record)
    return stager.blob()


def _batch_columns(batch: list[dict]) -> list:
    columns = [list(map(itemgetter(name), batch)) for name in TEXT_COLUMNS]
    for name in NUMBER_FIELDS:
        values = list(map(itemgetter(name), batch))
        if not set(map(type, values)) <= _NUMBER_TYPES:
            raise ValueError(f"{name} holds a value that is not a Decimal or None")
        columns.append("|".join(map(str, values)))
    return columns


def _mac(secret: bytes, sha256: str):
    """The blob's HMAC so far: keyed for staged rows alone, over the workbook's hash first."""
    key = hmac.new(secret, b"paydash staged rows", "sha256").digest()
    return hmac.new(key, sha256.encode("ascii"), "sha256")


def decode_rows(blob: bytes, sha256: str, secret: bytes) -> Iterator[list[dict]]:
    """The staged rows in batches, exactly as `encode_rows` was given them.

    Raises StagedRowsUnusable at once when the header (format, workbook, HMAC or checksum)
    does not match; the batches themselves raise it part-way only for a blob that passed
    those checks but whose content is wrong, so a caller storing batches as they come must
    be able to roll back.
    """
    return map(_rows, decode_columns(blob, sha256, secret))


def decode_columns(blob: bytes, sha256: str, secret: bytes,
                   numbers_as_text: bool = False) -> Iterator[dict[str, list]]:
    """The staged rows in batches as columns: {column name: its values, in row order}.

    The same values as `decode_rows` (whose rows are these columns zipped), for a caller
    that wants them by column, as a bulk insert does: no dict per row to take apart
    again. With `numbers_as_text` each number is its Decimal's text (`str(Decimal)`; None
    stays None), not made into a Decimal: a bulk insert binds that text (or a float)
    directly, and making 2,000,000 Decimals only to take them apart again was a fifth of
    a 100,000-row commit. Raises StagedRowsUnusable as `decode_rows` does.
    """
    if blob[:len(MAGIC) + 1] == MAGIC + b" ":
        count, start = _header(blob, sha256, secret)
        return _batches(blob, start, count, _split_texts if numbers_as_text else _numbers)
    count, start = _header_v1(blob, sha256)
    return _batches_v1(blob, start, count, _number_texts if numbers_as_text else _numbers)


def _header(blob: bytes, sha256: str, secret: bytes) -> tuple[int, int]:
    """(row count, where the frames start) of a format 2 blob that Paydash wrote for this
    workbook: its HMAC is checked here, before any of it is unmarshalled."""
    fields, end = _header_fields(blob, sha256, MAGIC)
    if not fields[2].isdigit():
        raise StagedRowsUnusable("unreadable header")
    mac = _mac(secret, sha256)
    mac.update(memoryview(blob)[end + 1:])
    mac.update(fields[2])
    if not hmac.compare_digest(mac.hexdigest().encode("ascii"), fields[3]):
        raise StagedRowsUnusable("HMAC mismatch (damaged, or staged under another secret key)")
    return int(fields[2]), end + 1


def _batches(blob: bytes, start: int, count: int, numbers) -> Iterator[dict[str, list]]:
    seen, offset = 0, start
    try:
        while offset < len(blob):
            (size,) = _FRAME.unpack_from(blob, offset)
            offset += _FRAME.size
            frame = blob[offset:offset + size]
            if len(frame) != size:
                raise ValueError("a frame cut short")
            offset += size
            columns = _columns(marshal.loads(zlib.decompress(frame)), numbers)
            seen += len(columns[COLUMNS[0]])
            yield columns
    except (zlib.error, struct.error, EOFError, ValueError, TypeError, AttributeError,
            LookupError, ArithmeticError) as exc:
        raise StagedRowsUnusable(f"damaged: {type(exc).__name__}: {exc}") from exc
    if seen != count:
        raise StagedRowsUnusable(f"holds {seen} of {count} rows")


def _batches_v1(blob: bytes, start: int, count: int, numbers) -> Iterator[dict[str, list]]:
    unpacker = zlib.decompressobj()
    seen, pending = 0, b""
    try:
        for offset in range(start, len(blob), CHUNK):
            pending += unpacker.decompress(blob[offset:offset + CHUNK])
            *lines, pending = pending.split(b"\n")
            for line in lines:
                columns = _columns(json.loads(line), numbers)
                seen += len(columns[COLUMNS[0]])
                yield columns
        pending += unpacker.flush()
    except (zlib.error, ValueError, TypeError, AttributeError, LookupError, ArithmeticError) as exc:
        raise StagedRowsUnusable(f"damaged: {type(exc).__name__}: {exc}") from exc
    if pending or not unpacker.eof or seen != count:
        raise StagedRowsUnusable(f"holds {seen} of {count} rows")


def _columns(columns: list, numbers) -> dict[str, list]:
    if type(columns) is not list or len(columns) != len(COLUMNS):
        raise ValueError(f"a batch that is not a list of {len(COLUMNS)} columns")
    columns[_NUMBERS_AT:] = [numbers(text) for text in columns[_NUMBERS_AT:]]
    if any(type(column) is not list for column in columns):
        raise ValueError("a column that is not a list")
    if len({len(column) for column in columns}) != 1:
        raise ValueError("columns of different lengths")
    return dict(zip(COLUMNS, columns))


def _rows(columns: dict[str, list]) -> list[dict]:
    return [dict(zip(COLUMNS, values)) for values in zip(*columns.values())]


def _numbers(text: str) -> list:
    parts = text.split("|")
    if "None" in parts:
        return [None if part == "None" else Decimal(part) for part in parts]
    return list(map(Decimal, parts))


def _split_texts(text: str) -> list:
    parts = text.split("|")
    if "None" in parts:
        return [None if part == "None" else part for part in parts]
    return parts


def _number_texts(text: str) -> list:
    if not _NUMBER_TEXTS.fullmatch(text):
        raise ValueError("a number column that is not Decimals' text")
    return _split_texts(text)


def _header_v1(blob: bytes, sha256: str) -> tuple[int, int]:
    """(row count, where the zlib stream starts) of a format 1 blob of the workbook."""
    fields, end = _header_fields(blob, sha256, MAGIC_V1)
    try:
        count, crc = int(fields[2]), int(fields[3])
    except ValueError:
        raise StagedRowsUnusable("unreadable header") from None
    if zlib.crc32(memoryview(blob)[end + 1:]) != crc:
        raise StagedRowsUnusable("checksum mismatch")
    return count, end + 1


def _header_fields(blob: bytes, sha256: str, magic: bytes) -> tuple[list[bytes], int]:
    """The header line's four fields and where it ends, for a blob of format `magic` staged
    from the workbook whose hash is `sha256`; both formats' headers start alike."""
    end = blob.find(b"\n", 0, 200)
    fields = blob[:end].split(b" ") if end > 0 else []
    if len(fields) != 4 or fields[0] != magic:
        raise StagedRowsUnusable("not a staged-rows blob of a known format")
    if fields[1] != sha256.encode("ascii"):
        raise StagedRowsUnusable("staged from another workbook")
    return fields, end
