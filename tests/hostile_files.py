"""Hostile and broken files for the upload pipeline, each with the outcome Paydash owes it.

Run `python tests/hostile_files.py OUTDIR` to write every file (and a manifest.json) into
OUTDIR; tests import `CASES`. Workbooks are written as raw zip XML, not with openpyxl, so
they are built in milliseconds and can be exactly as wrong as a case needs.

Outcomes:
- "refused": the upload form answers 400 with a message; nothing is stored.
- "fatal": the file is accepted, and its check ends with a message instead of a preview.
- "imports": the file is accepted and imports `rows` employees.
- "refused_or_fatal": either of the first two (the rule may live at either stage).
Every message must contain each string in `expect` (case-insensitive); a tuple inside
`expect` means "one of these".
"""
import io
import json
import pathlib
import random
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

# Run as a script only tests/ is on the path; paydash lives one level up.
ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# col_letter stays importable from here (test_huge_shapes, bench/fuzz_sheets use it).
from paydash.sheets.headers import column_letter as col_letter  # noqa: E402

CT_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CT_MACRO = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
REL_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"

HEADERS = ["Employee ID", "NAME", "SALARY", "SAL+OT", "NETT PAYABLE", "Department"]
ROWS = [
    ["E001", "Ravi Kumar", 30000, 32000.5, 30000.25, "Sales"],
    ["E002", "Meena Iyer", 45000, 45000, 42000.1, "Accounts"],
    ["E003", "Joseph Dsouza", 25000, 26500, 25000.4, ""],
]
# What to do with a file that is not a plain workbook: every refusal says it.
SAVE_AS = ("xlsx",)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], bytes]
    outcome: str
    expect: tuple = ()
    rows: int | None = None
    note: str = ""
    gap: str = ""  # a known gap in Paydash: the case is expected to fail until it is fixed

    @property
    def filename(self) -> str:
        return self.name if "." in self.name else self.name + ".xlsx"


# --- Raw xlsx writing ----------------------------------------------------------------------------


def cell_xml(ref: str, value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}</t></is></c>'


def row_xml(number: int, values: list) -> str:
    cells = "".join(cell_xml(f"{col_letter(i)}{number}", v) for i, v in enumerate(values))
    return f'<row r="{number}">{cells}</row>'


def sheet_xml(rows: list[list], *, dimension: str | None = None, start: int = 1) -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    body = "".join(row_xml(start + i, values) for i, values in enumerate(rows))
    return f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet {NS}>{dim}<sheetData>{body}</sheetData></worksheet>'.encode()


def salary_sheet(rows: list[list] | None = None) -> bytes:
    return sheet_xml([HEADERS, *(ROWS if rows is None else rows)])


def package(sheets: list[tuple[str, bytes]], *, hidden: tuple[str, ...] = (),
            extra: dict[str, bytes] | None = None, main_type: str = CT_MAIN,
            overrides: dict[str, str] | None = None, workbook_rels_extra: str = "",
            workbook_extra: str = "", compresslevel: int = 6) -> bytes:
    """An .xlsx package with `sheets` (name, worksheet XML) plus any `extra` parts."""
    overrides = dict(overrides or {})
    entries: dict[str, bytes] = {}
    sheet_tags, rels = [], []
    for i, (name, xml) in enumerate(sheets, start=1):
        state = ' state="hidden"' if name in hidden else ""
        sheet_tags.append(f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}"{state} r:id="rId{i}"/>')
        rels.append(f'<Relationship Id="rId{i}" Type="{REL_DOC}/worksheet" Target="worksheets/sheet{i}.xml"/>')
        entries[f"xl/worksheets/sheet{i}.xml"] = xml
        overrides[f"/xl/worksheets/sheet{i}.xml"] = CT_SHEET
    overrides["/xl/workbook.xml"] = main_type
    types = "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in overrides.items())
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f"{types}</Types>")
    parts = {
        "[Content_Types].xml": content_types.encode(),
        "_rels/.rels": (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{REL_PKG}">'
                        f'<Relationship Id="rId1" Type="{REL_DOC}/officeDocument" Target="xl/workbook.xml"/>'
                        "</Relationships>").encode(),
        "xl/workbook.xml": (f'<?xml version="1.0" encoding="UTF-8"?><workbook {NS} {NS_R}>{workbook_extra}'
                            f'<sheets>{"".join(sheet_tags)}</sheets></workbook>').encode(),
        "xl/_rels/workbook.xml.rels": (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{REL_PKG}">'
                                       f'{"".join(rels)}{workbook_rels_extra}</Relationships>').encode(),
        **entries,
        **(extra or {}),
    }
    return zip_bytes(parts, compresslevel=compresslevel)


def zip_bytes(parts: dict[str, bytes], compresslevel: int = 6) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def valid_xlsx() -> bytes:
    return package([("Salary", salary_sheet())])


# --- Containers that are not zip: OLE2 compound files ------------------------------------------

_FREE, _END, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A minimal, valid OLE2 compound file (CFB v3) holding `streams` at the root.

    Each stream is padded to 4096 bytes so it lives in ordinary sectors and no mini
    stream is needed. This is the container of legacy .xls files and of password-protected
    .xlsx files (EncryptionInfo + EncryptedPackage).
    """
    names = list(streams)
    datas = [streams[n].ljust(max(4096, -(-len(streams[n]) // 512) * 512), b"\0") for n in names]
    # sector 0: FAT, sector 1: directory; the streams start at sector 2
    fat = [_FATSECT, _END]
    starts = []
    for data in datas:
        count = len(data) // 512
        starts.append(len(fat))
        fat.extend(range(len(fat) + 1, len(fat) + count))
        fat.append(_END)
    assert len(fat) <= 128 and len(names) <= 3, "keep it to one FAT and one directory sector"
    fat += [_FREE] * (128 - len(fat))
    entries = [_dir_entry("Root Entry", 5, child=1, start=_END, size=0)]
    for i, (name, data) in enumerate(zip(names, datas)):
        right = i + 2 if i + 1 < len(names) else _NOSTREAM
        entries.append(_dir_entry(name, 2, right=right, start=starts[i], size=len(data)))
    entries += [b"\0" * 64 + struct.pack("<HBBIII", 0, 0, 0, _NOSTREAM, _NOSTREAM, _NOSTREAM)
                + b"\0" * 52] * (4 - len(entries))
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, _END, 0, _END, 0)
              + struct.pack("<I", 0) + struct.pack("<I", _FREE) * 108)
    assert len(header) == 512
    return header + struct.pack("<128I", *fat) + b"".join(entries) + b"".join(datas)


def _dir_entry(name: str, kind: int, *, child=_NOSTREAM, right=_NOSTREAM, start: int, size: int) -> bytes:
    encoded = name.encode("utf-16-le") + b"\0\0"
    return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", _NOSTREAM, right, child) + b"\0" * 16 + b"\0" * 4
            + b"\0" * 16 + struct.pack("<IQ", start, size))


def encrypted_xlsx() -> bytes:
    """What Excel writes for "Encrypt with password": agile EncryptionInfo + EncryptedPackage."""
    info = (struct.pack("<HHI", 4, 4, 0x40) + b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            b'<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption">'
            b'<keyData saltSize="16" blockSize="16" keyBits="256" hashSize="64" '
            b'cipherAlgorithm="AES" cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512"/></encryption>')
    package_bytes = struct.pack("<Q", 5000) + random.Random(5).randbytes(5008)
    return compound_file({"EncryptionInfo": info, "EncryptedPackage": package_bytes})


def legacy_xls() -> bytes:
    """A BIFF8 workbook stream in an OLE2 container: the .xls of Excel 97-2003."""
    bof = struct.pack("<HHHHHHII", 0x0809, 16, 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0x06)
    return compound_file({"Workbook": bof + struct.pack("<HH", 0x000A, 0)})


# --- Real .xls and .ods (issue 18: calamine reads them) --------------------------------------

ODS_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')


def xls_bytes(rows: list[list] | None = None, *, banner: str | None = None, hidden_first: bool = False) -> bytes:
    import xlwt  # noqa: PLC0415  (a test-only dependency; only these cases need it)
    rows = [HEADERS, *ROWS] if rows is None else rows
    book = xlwt.Workbook()
    if hidden_first:
        notes = book.add_sheet("Notes")
        notes.write(0, 0, "Employee ID")
        notes.write(0, 1, "Net Pay")
        notes.visibility = 1
    sheet = book.add_sheet("Salary")
    offset = 0
    if banner:
        sheet.write(0, 0, banner)
        offset = 2
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            if value != "":
                sheet.write(r + offset, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def ods_cell(value) -> str:
    if value == "":
        return "<table:table-cell/>"
    if isinstance(value, (int, float)):
        return (f'<table:table-cell office:value-type="float" office:value="{value!r}">'
                f"<text:p>{value}</text:p></table:table-cell>")
    return f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p></table:table-cell>'


def ods_bytes(rows: list[list] | None = None, *, content_head: str = "", manifest_extra: str = "") -> bytes:
    rows = [HEADERS, *ROWS] if rows is None else rows
    body = "".join("<table:table-row>" + "".join(ods_cell(v) for v in row) + "</table:table-row>"
                   for row in rows)
    content = (f'<?xml version="1.0" encoding="UTF-8"?>{content_head}<office:document-content {ODS_NS} '
               'office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Salary">'
               f"{body}</table:table></office:spreadsheet></office:body></office:document-content>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                f'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">{manifest_extra}'
                "</manifest:file-entry></manifest:manifest>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                         compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)
    return buffer.getvalue()


# --- Zip-level attacks ----------------------------------------------------------------------------


def ratio_bomb() -> bytes:
    """A sheet of 200 MB of spaces that deflates to about 200 KB (1000:1)."""
    sheet = b"<?xml version='1.0'?><worksheet " + NS.encode() + b"><sheetData>" + b" " * (200 << 20)
    return package([("Salary", sheet + b"</sheetData></worksheet>")], compresslevel=1)


def total_size_bomb() -> bytes:
    """Entries that each inflate 25:1 (under the ratio limit) but 120 MB together."""
    table = bytes(97 if i < 251 else b"<>&\"'"[i - 251] for i in range(256))
    filler = random.Random(2).randbytes(24 << 20).translate(table)
    parts = {f"xl/media/image{i}.bin": filler for i in range(5)}
    return package([("Salary", salary_sheet())], extra=parts, compresslevel=1)


def lying_sizes() -> bytes:
    """A 50 MB sheet whose zip headers declare it 1 KB: a reader trusting them is fooled."""
    sheet = b"<?xml version='1.0'?><worksheet " + NS.encode() + b"><sheetData>" + b" " * (50 << 20) + b"</sheetData></worksheet>"
    data = bytearray(package([("Salary", sheet)], compresslevel=1))
    real = struct.pack("<I", len(sheet))
    fake = struct.pack("<I", 1024)
    # Patch the uncompressed size in both the local header and the central directory.
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        start = 0
        while (at := data.find(sig, start)) >= 0:
            offset = at + (22 if sig == b"PK\x03\x04" else 24)
            if data[offset:offset + 4] == real:
                data[offset:offset + 4] = fake
            start = at + 4
    return bytes(data)


def many_entries() -> bytes:
    extra = {f"xl/junk/{i}.xml": b"<a/>" for i in range(20000)}
    return package([("Salary", salary_sheet())], extra=extra, compresslevel=1)


def overlapping_entries() -> bytes:
    """Fifield's non-recursive bomb shape: many central directory entries share one body."""
    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = b"A" * (10 << 20)
    comp = body.compress(raw) + body.flush()
    crc = zlib.crc32(raw)
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(comp), len(raw), 5, 0) + b"a.xml" + comp
    names = ["[Content_Types].xml", "xl/workbook.xml"] + [f"xl/x{i:03d}.xml" for i in range(38)]
    central, count = b"", len(names)
    for name in (n.encode() for n in names):
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc,
                               len(comp), len(raw), len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(central), len(local), 0)
    return local + central + end


def with_entry_name(name: str) -> bytes:
    return package([("Salary", salary_sheet())], extra={name: b"owned"})


def duplicate_entries() -> bytes:
    """Two zip entries with the sheet's name: which one a reader takes is a guess."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(valid_xlsx())) as source, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
        import warnings  # noqa: PLC0415  (zipfile warns about exactly what this case wants)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            target.writestr("xl/worksheets/sheet1.xml", salary_sheet([["E9", "Evil", 1, 1, 1, ""]]))
    return buffer.getvalue()


def zip_encrypted_flag() -> bytes:
    """The zip-level "encrypted" flag set on every entry (traditional PKWARE encryption)."""
    data = bytearray(valid_xlsx())
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (at := data.find(sig, start)) >= 0:
            data[at + offset] |= 1
            start = at + 4
    return bytes(data)


def bad_crc() -> bytes:
    data = bytearray(package([("Salary", salary_sheet())], compresslevel=0))
    at = data.find(b"Ravi Kumar")
    data[at] = ord("X")  # stored, so the bytes change but the recorded CRC does not
    return bytes(data)


def truncated() -> bytes:
    data = valid_xlsx()
    return data[: len(data) // 2]


def symlink_entry() -> bytes:
    buffer = io.BytesIO(valid_xlsx())
    with zipfile.ZipFile(buffer, "a") as archive:
        info = zipfile.ZipInfo("xl/link")
        info.create_system = 3
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


# --- XML attacks -------------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>"
)


def entity_sheet(doctype: str, reference: str) -> bytes:
    rows = [HEADERS, ["E001", reference, 30000, 32000, 30000, "Sales"]]
    body = "".join(row_xml(i + 1, r) for i, r in enumerate(rows)).replace(escape(reference), reference)
    return f'{doctype}<worksheet {NS}><sheetData>{body}</sheetData></worksheet>'.encode()


def billion_laughs() -> bytes:
    return package([("Salary", entity_sheet(BILLION_LAUGHS, "&lol9;"))])


def quadratic_blowup() -> bytes:
    doctype = f'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "{"a" * 50000}">]>'
    return package([("Salary", entity_sheet(doctype, "&a;" * 50000))])


def external_entity() -> bytes:
    doctype = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    return package([("Salary", entity_sheet(doctype, "&xxe;"))])


def external_entity_in_workbook() -> bytes:
    data = package([("Salary", salary_sheet())])
    doctype = b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>'
    return _replace_part(data, "xl/workbook.xml", lambda xml: doctype + xml.split(b"?>", 1)[1].replace(
        b'name="Salary"', b'name="&xxe;"'))


LONG_COMMENT = "<!--" + "x" * 3000 + "-->"


def dtd_after_long_comment() -> bytes:
    """A DTD placed after 3 KB of comment: a check of the first bytes alone misses it."""
    doctype = f'<?xml version="1.0"?>{LONG_COMMENT}<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    return package([("Salary", entity_sheet(doctype, "&xxe;"))])


def dtd_in_utf16() -> bytes:
    """A DTD in UTF-16, where a byte search for "<!DOCTYPE" finds nothing."""
    doctype = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    return package([("Salary", entity_sheet(doctype, "&xxe;").decode().encode("utf-16"))])


def dtd_in_shared_strings() -> bytes:
    """Entities expanded inside the shared strings part, after a long comment."""
    sst = (f'<?xml version="1.0"?>{LONG_COMMENT}<!DOCTYPE x [<!ENTITY a "INJECTED">'
           f'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><sst {NS} count="1" uniqueCount="1">'
           "<si><t>&b;</t></si></sst>").encode()
    sheet = salary_sheet().replace(
        b'<c r="B2" t="inlineStr"><is><t xml:space="preserve">Ravi Kumar</t></is></c>',
        b'<c r="B2" t="s"><v>0</v></c>')
    rel = f'<Relationship Id="rIdSS" Type="{REL_DOC}/sharedStrings" Target="sharedStrings.xml"/>'
    return package([("Salary", sheet)], workbook_rels_extra=rel, extra={"xl/sharedStrings.xml": sst},
                   overrides={"/xl/sharedStrings.xml": "application/vnd.openxmlformats-"
                              "officedocument.spreadsheetml.sharedStrings+xml"})


def dtd_in_workbook_after_comment() -> bytes:
    doctype = f'<?xml version="1.0"?>{LONG_COMMENT}<!DOCTYPE w [<!ENTITY n "Salary">]>'.encode()
    return _replace_part(valid_xlsx(), "xl/workbook.xml", lambda xml: doctype + xml.split(b"?>", 1)[1]
                         .replace(b'name="Salary"', b'name="&n;"'))


def parameter_entity() -> bytes:
    doctype = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % remote SYSTEM '
               '"http://127.0.0.1:9/evil.dtd">%remote;]>')
    return package([("Salary", entity_sheet(doctype, "Ravi"))])


def _replace_part(data: bytes, part: str, change) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts[part] = change(parts[part])
    return zip_bytes(parts)


# --- Macro, external content -------------------------------------------------------------------


def macro_workbook(main_type: str = CT_MACRO) -> bytes:
    rel = '<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>'
    # The part is named the way Excel names it, so the refusal cannot lean on content types alone.
    overrides = {"/xl/vbaProject.bin": "application/vnd.ms-office.vbaProject"} if main_type == CT_MACRO else {}
    return package([("Salary", salary_sheet())], main_type=main_type, workbook_rels_extra=rel,
                   overrides=overrides,
                   extra={"xl/vbaProject.bin": compound_file({"VBA": b"Attribute VB_Name"})})


def external_link() -> bytes:
    rel = (f'<Relationship Id="rIdExt" Type="{REL_DOC}/externalLink" '
           'Target="externalLinks/externalLink1.xml"/>')
    link = (f'<?xml version="1.0"?><externalLink {NS} {NS_R}><externalBook r:id="rId1"/></externalLink>').encode()
    link_rels = (f'<?xml version="1.0"?><Relationships xmlns="{REL_PKG}"><Relationship Id="rId1" '
                 f'Type="{REL_DOC}/externalLinkPath" Target="file:///C:/secret/payroll.xlsx" '
                 'TargetMode="External"/></Relationships>').encode()
    return package([("Salary", salary_sheet())], workbook_rels_extra=rel,
                   workbook_extra="", overrides={
                       "/xl/externalLinks/externalLink1.xml":
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"},
                   extra={"xl/externalLinks/externalLink1.xml": link,
                          "xl/externalLinks/_rels/externalLink1.xml.rels": link_rels})


def dde_formula_cells() -> bytes:
    """Names that a spreadsheet would run if an export wrote them back unquoted."""
    rows = [["E001", "=cmd|' /C calc'!A0", 30000, 32000, 30000, "+Sales"],
            ["E002", "@import(1)", 45000, 45000, 42000, "-Accounts"],
            ["E003", "=HYPERLINK(\"http://evil.test\",\"x\")", 25000, 26500, 25000, "\tTab"]]
    return package([("Salary", salary_sheet(rows))])


# --- Broken workbooks ---------------------------------------------------------------------------


def uncached_formula() -> bytes:
    rows = sheet_xml([HEADERS, ["E001", "Ravi", 30000, 32000, 30000, "Sales"]]).replace(
        b'<c r="E2"><v>30000</v></c>', b'<c r="E2"><f>D2-2000</f></c>')
    return package([("Salary", rows)])


def missing_part(part: str) -> Callable[[], bytes]:
    def build() -> bytes:
        with zipfile.ZipFile(io.BytesIO(valid_xlsx())) as source:
            parts = {i.filename: source.read(i) for i in source.infolist() if i.filename != part}
        return zip_bytes(parts)
    return build


def bad_xml_sheet() -> bytes:
    return package([("Salary", salary_sheet()[:-40] + b"<row r=\"9\"><c r=\"A9\"")])


def shared_string_out_of_range() -> bytes:
    sheet = salary_sheet().replace(b'<c r="B2" t="inlineStr"><is><t xml:space="preserve">Ravi Kumar</t></is></c>',
                                   b'<c r="B2" t="s"><v>999999</v></c>')
    return package([("Salary", sheet)])


def nul_in_xml() -> bytes:
    return package([("Salary", salary_sheet().replace(b"Ravi Kumar", b"Ravi\x00Kumar"))])


def text_where_numbers_belong() -> bytes:
    return package([("Salary", salary_sheet([["E001", "Ravi", "thirty thousand", 32000, "lots", "Sales"]]))])


def absurd_numbers() -> bytes:
    rows = [["E001", "Ravi", 1e308, 1e308, 1e308, "Sales"], ["E002", "Meena", -1e-300, 5, 5, "Sales"]]
    return package([("Salary", salary_sheet(rows).replace(b"1e+308", b"1e999"))])


def pay_row_without_code_or_name() -> bytes:
    """A row of pay figures with no code and no name: a subtotal line HR forgot to label."""
    return package([("Salary", salary_sheet([ROWS[0], ["", "", 30000, 32000, 30000, "Sales"]]))])


def money_beyond_decimal_precision() -> bytes:
    rows = [["E001", "Ravi", 1e30, 32000, 30000, "Sales"]]
    return package([("Salary", salary_sheet(rows))])


def huge_cell_reference() -> bytes:
    """A cell addressed past Excel's last column and row."""
    sheet = salary_sheet().replace(b'r="F2"', b'r="ZZZZ99999999"')
    return package([("Salary", sheet)])


def data_only_in_hidden_sheet() -> bytes:
    return package([("Cover", sheet_xml([["Nothing to see"]])), ("Salary", salary_sheet())],
                   hidden=("Salary",))


def no_header() -> bytes:
    return package([("Salary", sheet_xml([["a", "b", "c"], [1, 2, 3], [4, 5, 6]]))])


def header_only() -> bytes:
    return package([("Salary", salary_sheet([]))])


def empty_sheet() -> bytes:
    return package([("Salary", sheet_xml([]))])


def no_sheets() -> bytes:
    return package([])


def hostile_sheet_name() -> bytes:
    return package([('<script>alert(1)</script>', salary_sheet())])


def utf16_sheet() -> bytes:
    xml = salary_sheet().replace(b'encoding="UTF-8"', b'encoding="UTF-16"').decode().encode("utf-16")
    return package([("Salary", xml)])


def nested_zip_sheet() -> bytes:
    return package([("Salary", valid_xlsx())])


def docx_renamed() -> bytes:
    return zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})


def ods_renamed() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
        archive.writestr("META-INF/manifest.xml", "<manifest/>")
    return buffer.getvalue()


def xlsb_renamed() -> bytes:
    return zip_bytes({"[Content_Types].xml": b'<Types><Override PartName="/xl/workbook.bin" '
                      b'ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/></Types>',
                      "xl/workbook.bin": b"\x83\x01\x00", "_rels/.rels": b"<Relationships/>"})


def _const(data: bytes) -> Callable[[], bytes]:
    return lambda: data


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\0" * 200
CASES: list[Case] = [
    # Not a workbook at all: sniffed from the bytes, whatever the name says.
    Case("empty", _const(b""), "refused", ("empty",)),
    Case("pdf_renamed", _const(b"%PDF-1.7\n1 0 obj<<>>endobj\n" + b"x" * 500), "refused", ("PDF", "xlsx")),
    Case("png_renamed", _const(PNG), "refused", ("picture", "xlsx")),
    Case("jpeg_renamed", _const(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\0" * 300), "refused", ("picture",)),
    Case("gif_renamed", _const(b"GIF89a" + b"\0" * 300), "refused", ("picture",)),
    Case("exe_renamed", _const(b"MZ\x90\x00" + b"\0" * 60 + b"This program cannot be run in DOS mode" + b"\0" * 400),
         "refused", ("program", "xlsx")),
    Case("elf_renamed", _const(b"\x7fELF\x02\x01\x01" + b"\0" * 400), "refused", ("program",)),
    Case("csv_renamed", _const(b"Employee ID,NAME,SALARY,NETT PAYABLE\r\nE001,Ravi,30000,29000\r\n"),
         "refused", ("CSV", "xlsx")),
    Case("html_renamed", _const(b"<html><body><table><tr><td>E001</td></tr></table></body></html>"),
         "refused", ("web page", "xlsx")),
    Case("random_bytes", _const(random.Random(1).randbytes(4096)), "refused", ("not an Excel workbook",)),
    Case("password_protected", encrypted_xlsx, "refused", ("password", "xlsx without a password")),
    Case("legacy_xls", legacy_xls, "fatal", ("sheet",), note="an .xls with no sheet in it"),
    Case("real_xls.xls", xls_bytes, "imports", rows=3, note="Excel 97-2003, written by xlwt"),
    Case("real_ods.ods", ods_bytes, "imports", rows=3, note="OpenDocument, written as raw XML"),
    Case("xlsb_renamed", xlsb_renamed, "refused", (".xlsb", "xlsx")),
    Case("ods_renamed", ods_renamed, "fatal", ("sheet",), note="an .ods with no table in it"),
    Case("docx_renamed", docx_renamed, "refused", ("Word",)),
    Case("plain_zip", lambda: zip_bytes({"notes.txt": b"hello"}), "refused", ("not an Excel workbook",)),
    Case("truncated_zip", truncated, "refused", ("Upload the original file again",)),
    # Zip bombs and archive tricks: refused before any parsing.
    Case("ratio_bomb", ratio_bomb, "refused", ("unpacks to far more data",)),
    Case("total_size_bomb", total_size_bomb, "refused", ("unpacks to far more data",)),
    Case("lying_declared_sizes", lying_sizes, "refused", (("damaged", "unpacks to far more data"),)),
    Case("overlapping_entries", overlapping_entries, "refused", (("damaged", "unpacks to far more data"),)),
    Case("many_entries", many_entries, "refused", ("too many parts",)),
    Case("path_traversal_entry", lambda: with_entry_name("../../../../tmp/paydash_owned.txt"), "refused", ("unsafe names",)),
    Case("absolute_path_entry", lambda: with_entry_name("/tmp/paydash_owned_abs.txt"), "refused", ("unsafe names",)),
    Case("backslash_traversal_entry", lambda: with_entry_name("..\\..\\evil.txt"), "refused", ("unsafe names",)),
    Case("duplicate_entry_names", duplicate_entries, "refused", ("damaged",)),
    Case("zip_encrypted_flag", zip_encrypted_flag, "refused", ("password",)),
    Case("bad_crc", bad_crc, "refused", ("damaged",)),
    Case("symlink_entry", symlink_entry, "imports", rows=3, note="never extracted to disk"),
    # XML entity attacks: harmless, and no outside file is ever read.
    Case("billion_laughs", billion_laughs, "refused", ("hidden instructions",)),
    Case("quadratic_blowup", quadratic_blowup, "refused", ("hidden instructions",)),
    Case("external_entity_sheet", external_entity, "refused", ("hidden instructions",)),
    Case("external_entity_workbook", external_entity_in_workbook, "refused", ("hidden instructions",)),
    Case("external_parameter_entity", parameter_entity, "refused", ("hidden instructions",)),
    Case("dtd_after_long_comment", dtd_after_long_comment, "refused_or_fatal", ("hidden instructions",)),
    Case("dtd_in_utf16", dtd_in_utf16, "refused_or_fatal", ("hidden instructions",)),
    Case("dtd_in_shared_strings", dtd_in_shared_strings, "refused_or_fatal", ("hidden instructions",)),
    Case("dtd_in_workbook_after_comment", dtd_in_workbook_after_comment, "refused_or_fatal", ("xlsx",)),
    # Macros and external links: refused or ignored, and said so.
    Case("macro_enabled", macro_workbook, "refused", ("macros", "Save As")),
    Case("macro_hidden_in_xlsx", lambda: macro_workbook(CT_MAIN), "refused", ("macros",)),
    Case("external_link", external_link, "imports", ("links to other files",), rows=3),
    # Broken or odd workbooks: a clear message or a correct import.
    Case("uncached_formula", uncached_formula, "fatal", ("save it",)),
    Case("missing_content_types", missing_part("[Content_Types].xml"), "imports", rows=3),
    Case("missing_workbook_part", missing_part("xl/workbook.xml"), "refused", ("not an Excel workbook",)),
    Case("missing_sheet_part", missing_part("xl/worksheets/sheet1.xml"), "fatal", ("missing",)),
    Case("malformed_sheet_xml", bad_xml_sheet, "fatal", ("could not be read",)),
    Case("shared_string_out_of_range", shared_string_out_of_range, "fatal", ("could not be read",),
         note="calamine refuses a string index past the table (issue 18; it was read as empty)"),
    Case("nul_in_xml", nul_in_xml, "fatal", ("could not be read",)),
    Case("utf16_sheet_xml", utf16_sheet, "imports", rows=3),
    Case("zip_inside_sheet_part", nested_zip_sheet, "fatal", ("could not be read",)),
    Case("huge_cell_reference", huge_cell_reference, "fatal", ("too large",),
         note="calamine places the cell, so the sheet spans past Excel's grid (issue 18)"),
    Case("data_only_in_hidden_sheet", data_only_in_hidden_sheet, "fatal", ("header row", "Hidden")),
    Case("no_header_row", no_header, "fatal", ("No header row",)),
    Case("empty_sheet", empty_sheet, "fatal", ("No header row",)),
    Case("no_sheets", no_sheets, "fatal", ("no visible sheet",)),
    Case("header_only", header_only, "fatal", ("no employee rows",)),
    Case("text_where_numbers_belong", text_where_numbers_belong, "fatal", ("'thirty thousand' is not a number",)),
    Case("absurd_numbers", absurd_numbers, "fatal", ("is not a number",)),
    Case("pay_row_without_code_or_name", pay_row_without_code_or_name, "fatal", ("no employee code or name",)),
    Case("money_beyond_decimal_precision", money_beyond_decimal_precision, "fatal", ("Row 2",)),
    # Content that must import correctly, shown safely.
    Case("dde_formula_text", dde_formula_cells, "imports", rows=3),
    Case("hostile_sheet_name", hostile_sheet_name, "imports", rows=3),
    Case("real_xlsx_named_xls.xls", valid_xlsx, "imports", rows=3),
    Case("real_xlsx_no_extension.bin", valid_xlsx, "imports", rows=3),
    Case("../../etc/passwd.xlsx", valid_xlsx, "imports", rows=3, note="path in the filename"),
    Case("<img src=x onerror=alert(1)>.xlsx", valid_xlsx, "imports", rows=3, note="markup in the filename"),
    Case("\u202excod.xlsx", valid_xlsx, "imports", rows=3, note="right-to-left override in the filename"),
    Case("n" * 600 + ".xlsx", valid_xlsx, "imports", rows=3, note="600-character filename"),
]


def safe_filename(case: Case, index: int) -> str:
    """A name for writing the case to disk (the upload keeps the hostile one)."""
    stem = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in case.name)[:60].strip("._")
    return f"{index:02d}_{stem or 'case'}" + ("" if "." in stem else ".xlsx")


def write_all(outdir: pathlib.Path) -> list[dict]:
    outdir.mkdir(parents=True, exist_ok=True)
    manifest = []
    for index, case in enumerate(CASES):
        path = outdir / safe_filename(case, index)
        path.write_bytes(case.build())
        manifest.append({"file": path.name, "upload_as": case.filename, "outcome": case.outcome,
                         "expect": [list(e) if isinstance(e, tuple) else e for e in case.expect],
                         "rows": case.rows, "note": case.note, "gap": case.gap})
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    return manifest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/hostile_files.py OUTDIR")
    written = write_all(pathlib.Path(sys.argv[1]))
    print(f"wrote {len(written)} files to {sys.argv[1]}")
