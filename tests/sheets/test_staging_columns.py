"""Staged rows read by column (`decode_columns`, what the commit inserts from) hold exactly
the rows `decode_rows` gives, and format 1 blobs, staged by the releases before format 2
(1f3a984's staging.py taken from git), read back exactly as those releases read them.
"""
import hashlib
import zlib
from decimal import Decimal

import pytest
import sheet_builders as sb
from earlier_code import module_at
from test_staging import SECRET
from test_staging import SHA
from test_staging import exactly
from test_staging import row
from test_staging import signed

from paydash.sheets import staging
from paydash.sheets.salary_sheet import SalarySheet

EARLIER = "1f3a984"
earlier = module_at(EARLIER, "paydash/sheets/staging.py", "staging_before")


def samples() -> list[list[dict]]:
    odd = [row(paid_days=None, absent_days=None, net=Decimal("5"), gross=Decimal("5.00"),
               tds=Decimal("-0.00"), advance=Decimal("1E+3"), ot_hours=Decimal("0.125")),
           row(sheet_row=9, employee_key="RK#2", employee_code=None,
               employee_name='Ré "Quote" | pipe\nnew line, ₹ 𝔘 \u00a0', department="Unassigned",
               designation="Sr. Mgr | Ops", extra={"pf": "1800.00", "note": "None", "hra": "|"})]
    many = [row(sheet_row=n, employee_key=f"E{n}", net=Decimal(n) / 100, gross=None if n % 7 else
                Decimal(n)) for n in range(staging.BATCH * 2 + 7)]
    return [odd, many, list(SalarySheet(sb.template_sheet(40, total=True)).rows()),
            list(SalarySheet(sb.classic_sheet(30)).rows()), []]


def _batches(count: int) -> list[range]:
    """The batches `count` rows are staged in."""
    return [range(start, min(count, start + staging.BATCH))
            for start in range(0, count, staging.BATCH)]


def zipped(batches) -> list[dict]:
    return [dict(zip(staging.COLUMNS, values)) for columns in batches
            for values in zip(*(columns[name] for name in staging.COLUMNS))]


@pytest.mark.parametrize("index", range(5))
def test_columns_hold_exactly_the_rows_and_blobs_of_the_release_before_still_read(index):
    rows = samples()[index]
    for blob in (staging.encode_rows(rows, SHA, SECRET), earlier.encode_rows(rows, SHA)):
        by_column = list(staging.decode_columns(blob, SHA, SECRET))
        assert all(list(columns) == list(staging.COLUMNS) for columns in by_column)
        by_row = [r for batch in staging.decode_rows(blob, SHA, SECRET) for r in batch]
        assert exactly(zipped(by_column)) == exactly(by_row) == exactly(rows)
        assert [len(c["net"]) for c in by_column] == [len(b) for b in _batches(len(rows))]
        if blob.startswith(b"PDROWS1 "):
            before = [r for batch in earlier.decode_rows(blob, SHA) for r in batch]
            assert exactly(before) == exactly(rows)
        # As text, each number is its Decimal's own text: the same Decimal, exponent and all.
        as_text = list(staging.decode_columns(blob, SHA, SECRET, numbers_as_text=True))
        for texts, decimals in zip(as_text, by_column):
            for name in staging.COLUMNS:
                if name in staging.NUMBER_COLUMNS:
                    assert texts[name] == [None if d is None else str(d) for d in decimals[name]]
                    assert all(t is None or type(t) is str for t in texts[name])
                else:
                    assert texts[name] == decimals[name]


def test_columns_refuse_what_rows_refuse():
    blob = staging.encode_rows([row()], SHA, SECRET)
    with pytest.raises(staging.StagedRowsUnusable, match="another workbook"):
        staging.decode_columns(blob, hashlib.sha256(b"other").hexdigest(), SECRET)
    with pytest.raises(staging.StagedRowsUnusable):
        staging.decode_columns(blob[:-3], SHA, SECRET)
    with pytest.raises(staging.StagedRowsUnusable, match="another secret key"):
        staging.decode_columns(blob, SHA, b"another secret")
    with pytest.raises(staging.StagedRowsUnusable, match="holds 1 of 2 rows"):
        list(staging.decode_columns(signed(blob, count=2), SHA, SECRET))


@pytest.mark.parametrize("line", [
    b'[[2],["E1"]]',
    b'[[2],["E1"],["E1"],["A"],["S"],[null],[null]' + b',"5"' * 13 + b',"5|6"]',
    b'[[2],"E",["E1"],["A"],["S"],[null],[null]' + b',"5"' * 14 + b']',   # a column not a list
    b'[[2],["E1"],["E1"],["A"],["S"],[null],[null]' + b',"5"' * 13 + b',"5x"]',
    b'[[2],["E1"],["E1"],["A"],["S"],[null],[null]' + b',"5"' * 13 + b',5]',  # not a text
])
def test_format_1_columns_with_a_matching_checksum_but_bad_content_fail_while_read(line):
    body = zlib.compress(line + b"\n")
    blob = b"PDROWS1 %s 1 %d\n" % (SHA.encode(), zlib.crc32(body)) + body
    with pytest.raises(staging.StagedRowsUnusable, match="damaged"):
        list(staging.decode_columns(blob, SHA, SECRET))
    with pytest.raises(staging.StagedRowsUnusable, match="damaged"):
        list(staging.decode_columns(blob, SHA, SECRET, numbers_as_text=True))
    with pytest.raises(staging.StagedRowsUnusable, match="damaged"):
        list(staging.decode_rows(blob, SHA, SECRET))


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "sNaN", " 5", "5 ", "1e3",
                                  "1_000", "+5", ".5", "5.", "5|", "|5", "", "5||6", "none", "١٢", "1.5e+3"])
def test_format_1_number_texts_no_decimal_writes_are_refused_when_handed_on_as_text(text):
    """Text handed on unparsed reaches the database's own parser (or float()): in a format 1
    blob, which only a checksum guards, only the forms `str(Decimal)` gives for a finite
    number pass, as staging wrote them. (Format 2's text is authenticated by its HMAC.)"""
    line = (b'[[2],["E1"],["E1"],["A"],["S"],[null],[null]' + b',"5"' * 13
            + b',"%s"]' % text.encode())
    body = zlib.compress(line + b"\n")
    blob = b"PDROWS1 %s 1 %d\n" % (SHA.encode(), zlib.crc32(body)) + body
    with pytest.raises(staging.StagedRowsUnusable, match="damaged"):
        list(staging.decode_columns(blob, SHA, SECRET, numbers_as_text=True))
