"""Workbooks of every kind HR really sends, built with openpyxl (for tests and the benchmark)."""
import io
import random
import re
import zipfile
from decimal import ROUND_HALF_UP
from decimal import Decimal

import openpyxl

from paydash.sheets.headers import column_letter

TEMPLATE_HEADERS = [
    "Employee ID", "NAME", "SALARY", "ABSENT", "DAYS", "SL W/O OT", "OT", "HOUR RS", "CHARGES",
    "LATE", "CHARGE", "AMT", "SAL+OT", "25TH ADV", "OLD ADV", "NETT PAYABLE", "Department",
    "Total old ADV", "Balnce Adv", "INCENTIVE", "TDS", "SAL-TDS", "ADVANCE",
]
CLASSIC_HEADERS = [
    "Emp Code", "Employee Name", "Department", "Basic", "HRA", "Conveyance", "Special Allowance",
    "Gross", "PF", "ESI", "Prof. Tax", "TDS", "Total Deductions", "Net Pay",
]
BANNER = [["ACME TRADERS PVT LTD"], ["Salary sheet for the month of October 2024"], []]
DEPARTMENTS = ["Sales", "Stores", "Accounts", "Production", "Dispatch"]
FIRST = ["Ravi", "Rekha", "Anil", "Asha", "Suresh", "Meena", "Vijay", "Kavita", "Imran", "Pooja"]
LAST = ["Kumar", "Kapoor", "Sharma", "Iyer", "Patel", "Reddy", "Singh", "Das", "Nair", "Khan"]
CENT = Decimal("0.01")


def as_shown(value) -> Decimal:
    """A cell's value as Excel shows it with two decimals (what HR checks totals against)."""
    return Decimal(repr(value) if isinstance(value, float) else str(value)).quantize(CENT, ROUND_HALF_UP)


def person(i: int) -> tuple[str, str]:
    """A code and a name for employee number i."""
    return f"E{1000 + i}", f"{FIRST[i % 10]} {LAST[(i // 10) % 10]}"


def template_row(i: int, rng: random.Random) -> list:
    """One employee in the tenant's own template, with Excel's unrounded arithmetic."""
    code, name = person(i)
    salary = rng.randrange(12000, 60001, 500)
    absent = rng.choice([0, 0, 0, 1, 2, 3])
    days = 30 - absent
    earned = salary / 30 * days
    ot = rng.choice([0, 0, 4, 8, 12.5, 20])
    hour_rate = salary / 30 / 8
    ot_pay = ot * hour_rate
    late = rng.choice([0, 0, 15, 30, 45])
    late_pay = late * 2
    gross = earned + ot_pay - late_pay
    adv25, old_adv = rng.choice([0, 0, 1000, 2000]), rng.choice([0, 0, 500])
    tds = round(gross * 0.01) if salary > 40000 else 0
    net = gross - adv25 - old_adv - tds
    return [code, name, salary, absent, days, earned, ot, hour_rate, ot_pay, late, 2, late_pay,
            gross, adv25, old_adv, net, DEPARTMENTS[i % 5], old_adv * 3, old_adv * 2,
            rng.choice([0, 0, 0, 1000]), tds, gross - tds, 0]


def classic_row(i: int, rng: random.Random) -> list:
    """One employee in a classic Basic/HRA/PF/ESI sheet."""
    code, name = person(i)
    basic = rng.randrange(10000, 40001, 100)
    hra, conveyance, special = basic * 0.4, 1600, basic * 0.25
    gross = basic + hra + conveyance + special
    pf, esi, pt = round(basic * 0.12), round(gross * 0.0075, 2), 200
    tds = 0
    total = pf + esi + pt + tds
    return [code, name, DEPARTMENTS[i % 5], basic, hra, conveyance, special, gross, pf, esi, pt,
            tds, total, gross - total]


def workbook(sheets: list[tuple[str, list[list]]], hidden: tuple[str, ...] = ()) -> bytes:
    """An .xlsx with the given sheets (name, rows), the named ones hidden."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets:
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        if name in hidden:
            sheet.sheet_state = "hidden"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def template_rows(n: int, seed: int = 1) -> list[list]:
    rng = random.Random(seed)
    return [template_row(i, rng) for i in range(n)]


def template_sheet(n: int = 5, *, banner: bool = True, total: bool = False, seed: int = 1) -> bytes:
    """The tenant's template: banner rows, the header, n employees, maybe a TOTAL row."""
    rows = template_rows(n, seed)
    body = (BANNER if banner else []) + [TEMPLATE_HEADERS] + rows
    if total:
        body.append(total_row(TEMPLATE_HEADERS, rows, label_column=1))
    return workbook([("Salary Oct", body)])


def classic_sheet(n: int = 5, *, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    return workbook([("Sheet1", [CLASSIC_HEADERS] + [classic_row(i, rng) for i in range(n)])])


def total_row(headers: list[str], rows: list[list], label_column: int = 0) -> list:
    """A TOTAL row whose money cells equal the sum of the cells as Excel shows them."""
    sums = []
    for index in range(len(headers)):
        values = [r[index] for r in rows if isinstance(r[index], (int, float))]
        sums.append(float(sum((as_shown(v) for v in values), Decimal(0))) if values else None)
    sums[0] = None
    sums[label_column] = "TOTAL"
    return sums


def simple_sheet(rows: list[list], headers=("Emp Code", "Name", "Department", "Gross", "Net Pay"),
                 title: str = "Sheet1") -> bytes:
    """A small classic-looking sheet with exactly the given rows under the headers."""
    return workbook([(title, [list(headers)] + rows)])


def with_cached_values(data: bytes, values: dict[str, float],
                       part: str = "xl/worksheets/sheet1.xml") -> bytes:
    """Fill formula cells' cached values, as Excel does when it saves (openpyxl leaves them out)."""
    def fill(match):
        ref = match.group(1)
        if ref not in values:
            return match.group(0)
        return f'<c r="{ref}"{match.group(2)}><f>{match.group(3)}</f><v>{values[ref]}</v></c>'

    pattern = re.compile(r'<c r="([A-Z]+\d+)"([^>]*)><f>([^<]*)</f><v\s*/></c>')
    return rewrite_part(data, part, lambda xml: pattern.sub(fill, xml))


def rewrite_part(data: bytes, part: str, change) -> bytes:
    """A copy of the zip with one part's text passed through `change`."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == part:
                content = change(content.decode("utf-8")).encode("utf-8")
            target.writestr(item, content)
    return buffer.getvalue()


def add_part(data: bytes, part: str, content: bytes, content_type: str | None = None) -> bytes:
    """A copy of the zip with one more part (and its content type, when given)."""
    if content_type:
        data = rewrite_part(data, "[Content_Types].xml", lambda xml: xml.replace(
            "</Types>", f'<Override PartName="/{part}" ContentType="{content_type}"/></Types>'))
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr(part, content)
    return buffer.getvalue()


# --- Big sheets for the benchmark ------------------------------------------------------------


def write_template_xlsx(path, n: int, seed: int = 7) -> None:
    """The tenant's template with n rows, written straight as SpreadsheetML.

    openpyxl's writer needs minutes for 100,000 rows; this writes the same cells (inline
    strings, numbers) in seconds, and openpyxl reads the result like any workbook.
    """
    rng = random.Random(seed)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for part, xml in _package_parts().items():
            archive.writestr(part, xml)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as stream:
            stream.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                         b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                         b"<sheetData>")
            stream.write(_xml_row(1, TEMPLATE_HEADERS).encode())
            batch = []
            for i in range(n):
                batch.append(_xml_row(i + 2, template_row(i, rng)))
                if len(batch) == 1000:
                    stream.write("".join(batch).encode())
                    batch = []
            stream.write("".join(batch).encode())
            stream.write(b"</sheetData></worksheet>")


def _xml_row(number: int, values: list) -> str:
    cells = []
    for index, value in enumerate(values):
        ref = f"{column_letter(index)}{number}"
        if isinstance(value, str):
            text = value.replace("&", "&amp;").replace("<", "&lt;")
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')
        else:
            cells.append(f'<c r="{ref}"><v>{value!r}</v></c>')
    return f'<row r="{number}">{"".join(cells)}</row>'


def _package_parts() -> dict[str, str]:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    return {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{pkg}"><Relationship '
            f'Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{rel}">'
            '<sheets><sheet name="Salary" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{pkg}"><Relationship '
            f'Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'),
    }
