"""Receive-time checks on an uploaded file: size, real kind, zip sanity, macros (pure).

The kind is sniffed from the bytes, never the name, and every refusal says what the file
is and what to do. Zip checks inflate each part as a stream with a running cap, so a
part whose declared size lies, a bomb, or a traversal name is refused before any parse.
"""
import io
import zipfile
import zlib

MAX_ENTRIES = 2000
# What zipfile raises for a damaged or unusual package (NotImplementedError: a part that
# claims a newer zip version or an unknown compression; RuntimeError: a password needed).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, RuntimeError,
              NotImplementedError)
# The unpacked size allowed grows with the upload: a real workbook unpacks to 5-12 times its
# size (500,000 rows: about 70 MB in, 400-800 MB out), a bomb to thousands of times. So the
# cap is INFLATION_FACTOR × the upload, never below MIN_INFLATED (small files with big
# styles) nor above MAX_INFLATED (what one worker may ever read).
INFLATION_FACTOR = 15
MIN_INFLATED = 100 * 1024 * 1024
MAX_INFLATED = 1024 * 1024 * 1024
MAX_RATIO = 100
RATIO_FLOOR = 1024 * 1024          # tiny parts compress far beyond 100:1 legitimately
CHUNK = 256 * 1024
SAVE_AS = "Open it in Excel and use File › Save As › Excel Workbook (.xlsx), then upload that file."

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
_MACRO_TYPES = (b"macroEnabled", b"vbaProject")


class FileRejected(Exception):
    """The upload is refused; `code` is for machines, `message` tells HR what to do."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


MESSAGES = {
    "empty": "The file is empty. Choose the salary sheet again and upload it.",
    "encrypted": ("This workbook is password-protected, so Paydash cannot read it. Open it in "
                  "Excel, remove the password (File › Info › Protect Workbook › Encrypt with "
                  "Password, clear it) and save it as .xlsx without a password."),
    "legacy_xls": ("This is an old Excel 97-2003 workbook (.xls). " + SAVE_AS),
    "ole": ("This is an old Microsoft Office document, not an Excel workbook. " + SAVE_AS),
    "xlsb": "This is an Excel binary workbook (.xlsb). " + SAVE_AS,
    "ods": ("This is an OpenDocument spreadsheet (.ods). In LibreOffice use File › Save As › "
            "Excel 2007-365 (.xlsx), then upload that file."),
    "csv": ("This is a text or CSV file, not an Excel workbook. Open it in Excel, check the "
            "columns, and save it as Excel Workbook (.xlsx)."),
    "html": ("This is a web page (HTML or XML) saved with a spreadsheet name, not a real Excel "
             "workbook. " + SAVE_AS),
    "pdf": ("This is a PDF document. Paydash needs the Excel file the PDF was made from: upload "
            "the .xlsx salary sheet instead."),
    "image": ("This is a picture, not a spreadsheet. Upload the .xlsx salary sheet itself, not "
              "a photo or screenshot of it."),
    "executable": "This is a program, not a spreadsheet. It was refused. Upload the .xlsx salary sheet.",
    "not_xlsx": "This file is not an Excel workbook. Upload the salary sheet saved as .xlsx.",
    "docx": "This is a Word or PowerPoint document, not an Excel workbook. Upload the .xlsx salary sheet.",
    "damaged": ("This file looks like an Excel workbook but is damaged or incomplete (often a "
                "download or copy that stopped part way). Upload the original file again; if "
                "it still fails, open it in Excel, save it as .xlsx and upload that."),
    "macro": ("This workbook contains macros (VBA), which Paydash does not accept. In Excel use "
              "File › Save As › Excel Workbook (.xlsx) — that drops the macros — and upload "
              "that file."),
    "zip_bomb": ("This file unpacks to far more data than any salary sheet of its size, so it "
                 "was refused. If it really is your salary sheet, copy the salary rows into a "
                 "new workbook, save it as .xlsx and upload that."),
    "too_many_parts": ("This workbook has too many parts (thousands of sheets or objects). Copy "
                       "the salary sheet into a new workbook, save it as .xlsx and upload that."),
    "unsafe_zip": ("This file contains entries with unsafe names (such as '../'), which a real "
                   "Excel workbook never has, so it was refused. " + SAVE_AS),
    "xml_dtd": ("This file contains hidden instructions that Excel never writes, so it was "
                "refused for safety. " + SAVE_AS),
}


def reject(code: str, detail: str = "") -> FileRejected:
    return FileRejected(code, (detail + " " if detail else "") + MESSAGES[code])


def check_upload(data: bytes, filename: str, max_bytes: int) -> None:
    """Refuse (FileRejected) anything but a sane .xlsx, .xls or .ods; cheap: no sheet is parsed."""
    if not data:
        raise reject("empty")
    if len(data) > max_bytes:
        raise FileRejected("too_large", (
            f"The file is {_size(len(data))}; the limit is {_size(max_bytes)}. Delete unused "
            "sheets, pictures and empty formatted rows, save, and upload again."))
    kind = sniff(data)
    if kind == "legacy_xls":
        check_xls(data)
        return
    if kind != "zip":
        raise reject(kind)
    check_xlsx_zip(data)


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / 1048576:.1f}".removesuffix(".0") + " MB"
    return f"{max(1, round(count / 1024))} KB"


def sniff(data: bytes) -> str:
    """The file's kind from its first bytes: "zip" or a refusal code."""
    head = data[:8]
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head == _OLE:
        if _ENCRYPTED_STREAM in data:
            return "encrypted"
        if "Workbook".encode("utf-16-le") in data or "Book".encode("utf-16-le") in data:
            return "legacy_xls"
        return "ole"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00",
                        b"MM\x00*")) or data[8:12] == b"WEBP":
        return "image"
    if head.startswith((b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")):
        return "executable"
    return _sniff_text(data[:4096])


def _sniff_text(head: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            text = head.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return "not_xlsx"
    folded = text.lstrip().lower()
    if folded.startswith(("<!doctype", "<html", "<?xml", "<table", "<meta")):
        return "html"
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return "csv" if text and printable / len(text) > 0.95 else "not_xlsx"


def check_xlsx_zip(data: bytes) -> None:
    """Entry count, names, real inflated sizes and ratio, then what kind of zip it is."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except ZIP_ERRORS:
        raise reject("damaged") from None
    if len(entries) > MAX_ENTRIES:
        raise reject("too_many_parts")
    for entry in entries:
        if _unsafe_name(entry.filename):
            raise reject("unsafe_zip")
        if entry.flag_bits & 0x1:
            raise reject("encrypted")
    names = {entry.filename for entry in entries}
    if len(names) != len(entries):
        # Two parts with one name: readers disagree on which one counts. Excel never does it.
        raise reject("damaged")
    _check_kind(archive, names)
    _check_inflation(archive, entries, len(data))


def _check_kind(archive: zipfile.ZipFile, names: set[str]) -> None:
    if "xl/workbook.bin" in names:
        raise reject("xlsb")
    if "mimetype" in names:
        check_ods(archive, names)
        return
    if any(name.startswith(("word/", "ppt/")) for name in names):
        raise reject("docx")
    if "xl/workbook.xml" not in names:
        raise reject("not_xlsx")
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise reject("macro")
    try:
        content_types = archive.read("[Content_Types].xml") if "[Content_Types].xml" in names else b""
    except ZIP_ERRORS:
        raise reject("damaged") from None
    if len(content_types) < 1024 * 1024 and any(t in content_types for t in _MACRO_TYPES):
        raise reject("macro")


# --- Excel 97-2003 (.xls) and OpenDocument (.ods): calamine reads both (issue 18) -------------

ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
_XLS_MACROS = "_VBA_PROJECT_CUR".encode("utf-16-le")


def check_xls(data: bytes) -> None:
    """An .xls (a Workbook stream in a compound file): refuse macros; the rest is the reader's."""
    if _XLS_MACROS in data:
        raise reject("macro")


def check_ods(archive: zipfile.ZipFile, names: set[str]) -> None:
    """An OpenDocument package: a spreadsheet, with content, not encrypted."""
    try:
        mimetype = archive.read("mimetype").strip()
        manifest = (archive.read("META-INF/manifest.xml") if "META-INF/manifest.xml" in names
                    else b"")
    except ZIP_ERRORS:
        raise reject("damaged") from None
    if mimetype != ODS_MIMETYPE:
        raise reject("docx" if mimetype.startswith(b"application/vnd.oasis") else "not_xlsx")
    if b"encryption-data" in manifest:
        raise reject("encrypted")
    if "content.xml" not in names:
        raise reject("damaged")
    if any(name.lower().startswith("basic/") for name in names):
        raise reject("macro")


def _unsafe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or ".." in parts or "\\" in name
            or (len(name) > 1 and name[1] == ":") or "\x00" in name)


def inflation_cap(compressed: int) -> int:
    """The most a file of `compressed` bytes may unpack to (see INFLATION_FACTOR)."""
    return min(MAX_INFLATED, max(MIN_INFLATED, INFLATION_FACTOR * compressed))


def _check_inflation(archive: zipfile.ZipFile, entries: list, compressed: int) -> None:
    """Inflate every part with a running cap; declared sizes are never trusted."""
    total, cap = 0, inflation_cap(compressed)
    for entry in entries:
        if entry.file_size > cap:
            raise reject("zip_bomb")
        size = 0
        try:
            with archive.open(entry) as stream:
                while chunk := stream.read(CHUNK):
                    if size == 0 and entry.filename.endswith((".xml", ".rels")):
                        _check_no_dtd(chunk[:2048])
                    size += len(chunk)
                    total += len(chunk)
                    if total > cap:
                        raise reject("zip_bomb")
        except ZIP_ERRORS:
            # A CRC or length mismatch: the declared size or content lies.
            raise reject("damaged") from None
        if size > RATIO_FLOOR and size > MAX_RATIO * max(1, entry.compress_size):
            raise reject("zip_bomb")
    if total > RATIO_FLOOR and total > MAX_RATIO * compressed:
        raise reject("zip_bomb")


def _check_no_dtd(head: bytes) -> None:
    folded = head.lower()
    if b"<!doctype" in folded or b"<!entity" in folded:
        raise reject("xml_dtd")
