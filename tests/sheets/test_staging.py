"""Staged rows: validation keeps what it accepted, the commit inserts exactly that.

The first tests are pure (bytes in, rows out); the rest go through the import services
on SQLite (immediate mode) and PostgreSQL, like tests/services/test_imports.py.
"""
import hashlib
import marshal
import os
import struct
import zlib
from decimal import Decimal

import pytest
import sheet_builders as sb
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import make_app
from earlier_code import module_at

from paydash.extensions import db
from paydash.models import SalaryRow
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.services import imports
from paydash.sheets import staging
from paydash.sheets.rows import NUMBER_FIELDS
from paydash.sheets.salary_sheet import SalarySheet

SHA = hashlib.sha256(b"workbook").hexdigest()
SECRET = b"the app's secret key"
FORMAT_1 = "4bcc59c"   # the last release that staged rows in format 1
HEADERS = ("Emp Code", "Name", "Department", "Gross", "Net Pay")
THREE = [("E1", "Asha", "Sales", 30000.125, 28000.5), ("E2", "Ravi", "Stores", 20000, 19000),
         ("E3", "Meena", None, 0, 0)]
DUPLICATED = [("RK", "Ravi Kumar", "Sales", 100, 90), ("RK", "Rekha Kapoor", "Sales", 200, 180)]
TEMPLATE = sb.template_sheet(40, total=True)


def row(**changes) -> dict:
    record = {name: Decimal("0.00") for name in NUMBER_FIELDS}
    record.update(sheet_row=2, employee_key="E1", employee_code="E1", employee_name="Asha",
                  department="Sales", designation=None, extra=None)
    record.update(changes)
    return record


def round_trip(rows: list[dict]) -> list[dict]:
    blob = staging.encode_rows(rows, SHA, SECRET)
    return [r for batch in staging.decode_rows(blob, SHA, SECRET) for r in batch]


def exactly(rows: list[dict]) -> list:
    """Rows with each value's type and text, so Decimal('5') and Decimal('5.00') differ."""
    return [{k: (type(v).__name__, str(v)) for k, v in r.items()} for r in rows]


# --- The format (pure) ----------------------------------------------------------------------


def test_rows_come_back_exactly_with_decimals_none_and_text():
    rows = [
        row(paid_days=None, absent_days=None, net=Decimal("5"), gross=Decimal("5.00"),
            tds=Decimal("-0.00"), advance=Decimal("1E+3"), ot_hours=Decimal("0.125")),
        row(sheet_row=9, employee_key="RK#2", employee_code=None,
            employee_name='Ré "Quote" | pipe\nnew line, ₹ 𝔘 \u00a0', department="Unassigned",
            designation="Sr. Mgr | Ops", extra={"pf": "1800.00", "note": "None", "hra": "|"}),
    ]
    back = round_trip(rows)
    assert back == rows
    assert exactly(back) == exactly(rows)


def test_a_real_sheets_rows_come_back_exactly():
    for data in (TEMPLATE, sb.classic_sheet(30)):
        rows = list(SalarySheet(data).rows())
        assert rows and exactly(round_trip(rows)) == exactly(rows)


def test_many_batches_come_back_in_order():
    rows = [row(sheet_row=n, employee_key=f"E{n}", net=Decimal(n) / 100)
            for n in range(staging.BATCH * 2 + 7)]
    batches = list(staging.decode_rows(staging.encode_rows(rows, SHA, SECRET), SHA, SECRET))
    assert len(batches) == 3
    assert [r for batch in batches for r in batch] == rows


def test_a_row_with_an_unknown_column_is_not_staged():
    stager = staging.RowStager(SHA, SECRET)
    stager.add(row())
    stager.add(row(bonus=Decimal("1.00")))
    assert stager.blob() is None and "bonus" in stager.problem


def test_a_number_that_is_not_a_decimal_is_not_staged():
    assert staging.encode_rows([row(net=1.5)], SHA, SECRET) is None


def test_a_value_marshal_cannot_keep_is_not_staged():
    assert staging.encode_rows([row(extra={"pf": Decimal("1.00")})], SHA, SECRET) is None


def test_a_blob_of_another_workbook_is_refused_before_any_row():
    blob = staging.encode_rows([row()], SHA, SECRET)
    with pytest.raises(staging.StagedRowsUnusable, match="another workbook"):
        staging.decode_rows(blob, hashlib.sha256(b"other").hexdigest(), SECRET)


@pytest.mark.parametrize("damage", [
    lambda blob: blob[:-3],                                           # cut short
    lambda blob: blob[:-20] + bytes([blob[-20] ^ 1]) + blob[-19:],    # one bit flipped
    lambda blob: b"PDROWS0" + blob[7:],                               # another format
    lambda blob: b"\x80\x04\x95 a pickle",                            # not a staged blob
    lambda blob: wrong_count(blob, 3, resign=False),                  # count changed, not signed
    lambda blob: signed(blob, secret=b"another secret"),              # signed by another key
    lambda blob: signed(blob, body=frame([[2]]), resign=False),       # a frame put in, not signed
])
def test_a_damaged_blob_is_refused_before_any_row(damage):
    blob = staging.encode_rows([row(), row(sheet_row=3, employee_key="E2")], SHA, SECRET)
    unmarshalled = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(staging.marshal, "loads", lambda data: unmarshalled.append(data))
        with pytest.raises(staging.StagedRowsUnusable):
            staging.decode_rows(damage(blob), SHA, SECRET)
    assert unmarshalled == []      # nothing of a blob that fails is unmarshalled


def signed(blob: bytes, count: int | None = None, body: bytes | None = None,
           secret: bytes = SECRET, resign: bool = True) -> bytes:
    """The blob with its header's row count or its frames replaced, its HMAC made again with
    `secret` (when `resign`) as only a holder of that key could."""
    header, old_body = blob.split(b"\n", 1)
    magic, sha, old_count, old_mac = header.split(b" ")
    count_text = old_count if count is None else str(count).encode()
    body = old_body if body is None else body
    mac = old_mac
    if resign:
        digest = staging._mac(secret, sha.decode())
        digest.update(body)
        digest.update(count_text)
        mac = digest.hexdigest().encode()
    return b" ".join([magic, sha, count_text, mac]) + b"\n" + body


def frame(columns) -> bytes:
    """One batch as format 2 writes it: its length, then it marshalled and compressed."""
    packed = zlib.compress(marshal.dumps(columns, staging.MARSHAL_VERSION))
    return struct.pack(">I", len(packed)) + packed


def wrong_count(blob: bytes, count: int, resign: bool = True) -> bytes:
    """The blob with its header claiming `count` rows (signed again: only the count is wrong)."""
    return signed(blob, count=count, resign=resign)


def a_number_rewritten(blob: bytes, text: str, secret: bytes) -> bytes:
    """The blob with its first row's last number written as `text`, signed with `secret`."""
    body = blob.split(b"\n", 1)[1]
    (size,) = struct.unpack_from(">I", body)
    columns = marshal.loads(zlib.decompress(body[4:4 + size]))
    columns[-1] = text + columns[-1][columns[-1].index("|"):]
    return signed(blob, body=frame(columns) + body[4 + size:], secret=secret)


def test_a_blob_whose_row_count_disagrees_fails_after_its_rows():
    batches = staging.decode_rows(wrong_count(staging.encode_rows([row()], SHA, SECRET), 2), SHA,
                                  SECRET)
    with pytest.raises(staging.StagedRowsUnusable, match="holds 1 of 2 rows"):
        list(batches)


@pytest.mark.parametrize("columns", [
    [[2], ["E1"]],                                              # too few columns
    {"sheet_row": 2},                                           # not a list of columns
    [[2], ["E1"], ["E1"], ["A"], ["S"], [None], [None]] + [5] * 14,      # numbers not text
    [[2], ["E1"], ["E1"], ["A"], ["S"], [None], [None]] + ["x"] * 14,    # not numbers
    [[2], ["E1"], ["E1"], ["A"], ["S"], [None], [None]] + ["5"] * 13 + ["5|6"],   # uneven
])
def test_a_signed_blob_with_bad_content_fails_while_read(columns):
    blob = signed(staging.encode_rows([row()], SHA, SECRET), body=frame(columns))
    with pytest.raises(staging.StagedRowsUnusable, match="damaged"):
        list(staging.decode_rows(blob, SHA, SECRET))


def test_a_frame_cut_short_fails_while_read():
    body = frame([[2]])
    blob = signed(staging.encode_rows([row()], SHA, SECRET), body=body[:-2])
    with pytest.raises(staging.StagedRowsUnusable, match="cut short"):
        list(staging.decode_rows(blob, SHA, SECRET))


# --- Through the import services --------------------------------------------------------------


def sheet(rows) -> bytes:
    return sb.simple_sheet([list(r) for r in rows], headers=HEADERS)


def receive(app, people, data, month=10) -> int:
    with app.app_context():
        return imports.receive_upload(people.tenant_a, people.hr_a, "october.xlsx", data,
                                      2025, month).id


def secret(app) -> bytes:
    """What the app's staged rows are signed with."""
    with app.app_context():
        return imports.staging_secret()


def staged_of(app, upload_id) -> bytes | None:
    with app.app_context():
        return db.session.get(Upload, upload_id).staged_rows


def set_staged(app, upload_id, blob) -> None:
    with app.app_context():
        db.session.get(Upload, upload_id).staged_rows = blob
        db.session.commit()


def stored_rows(app, tenant_id, month=10) -> list[dict]:
    """The period's rows as the commit inserted them."""
    with app.app_context():
        rows = db.session.scalars(sa.select(SalaryRow).where(
            SalaryRow.tenant_id == tenant_id, SalaryRow.month == month)
            .order_by(SalaryRow.sheet_row)).all()
        return [{"key": r.employee_key, "code": r.employee_code, "name": r.employee_name,
                 "department": r.department, "gross": r.gross, "net": r.net,
                 "paid_days": r.paid_days, "extra": r.extra, "sheet_row": r.sheet_row}
                for r in rows]


def confirm(app, people, upload_id, keep_duplicates=False) -> str:
    with app.app_context():
        imports.confirm_upload(upload_id, people.tenant_a, people.hr_a, keep_duplicates)
        return db.session.get(Upload, upload_id).status


@pytest.fixture
def no_reparse(monkeypatch):
    """Fails any attempt by the commit to parse the workbook again."""
    def parse_again(data, *args, **kwargs):
        raise AssertionError("the commit parsed the workbook again")
    monkeypatch.setattr("paydash.services.imports.SalarySheet", parse_again)


@pytest.fixture
def reparses(monkeypatch):
    """Counts the commit's parses of the workbook."""
    calls = []

    def counted(data, *args, **kwargs):
        calls.append(os.fstat(data.fileno()).st_size)   # the stored workbook's memory file
        return SalarySheet(data, *args, **kwargs)
    monkeypatch.setattr("paydash.services.imports.SalarySheet", counted)
    return calls


def test_validation_stages_exactly_the_rows_a_parse_gives(app, people):
    upload_id = receive(app, people, TEMPLATE)
    batches = staging.decode_rows(staged_of(app, upload_id), hashlib.sha256(TEMPLATE).hexdigest(),
                                  secret(app))
    staged = [r for batch in batches for r in batch]
    assert exactly(staged) == exactly(list(SalarySheet(TEMPLATE).rows()))


def test_a_rejected_sheet_stages_nothing(app, people):
    upload_id = receive(app, people, sheet([("E1", "Asha", "Sales", 100, "twelve thousand")]))
    assert staged_of(app, upload_id) is None


def test_the_commit_inserts_the_staged_rows_without_parsing_the_file(app, people, no_reparse):
    upload_id = receive(app, people, TEMPLATE)
    assert confirm(app, people, upload_id) == UploadStatus.CONFIRMED.value
    assert len(stored_rows(app, people.tenant_a)) == 40


def test_the_commit_stores_what_was_staged(app, people, no_reparse):
    data = sheet(THREE)
    upload_id = receive(app, people, data)
    rows = list(SalarySheet(data).rows())
    rows[0]["net"] = Decimal("1.23")
    set_staged(app, upload_id, staging.encode_rows(rows, hashlib.sha256(data).hexdigest(),
                                                   secret(app)))
    confirm(app, people, upload_id)
    assert [r["net"] for r in stored_rows(app, people.tenant_a)] == [
        Decimal("1.23"), Decimal("19000.00"), Decimal("0.00")]


def stored_through(app, people, staged, month) -> list[dict]:
    """Rows the commit stores for TEMPLATE after `staged` changed the upload's staged blob."""
    upload_id = receive(app, people, TEMPLATE, month)
    set_staged(app, upload_id, staged(staged_of(app, upload_id)))
    assert confirm(app, people, upload_id) == UploadStatus.CONFIRMED.value
    return stored_rows(app, people.tenant_a, month)


@pytest.fixture
def reference(app, people):
    """What an untouched upload of TEMPLATE stores (in September; the tests use October)."""
    return stored_through(app, people, lambda blob: blob, month=9)


@pytest.mark.parametrize("staged", [
    lambda blob: None,                                      # validated before staging existed
    lambda blob: blob[:len(blob) // 2],                     # damaged
    lambda blob: b"PDROWS0" + blob[7:],                     # an older format
    lambda blob: wrong_count(blob, 41),                     # fails after its rows went in
    # Number text no Decimal writes, in a blob signed with another key: float() and
    # PostgreSQL would each take "1e3" as 1000 had the commit handed it on.
    lambda blob: a_number_rewritten(blob, "1e3", b"not the app's secret"),
])
def test_without_usable_staged_rows_the_commit_reads_the_file_again(app, people, reference,
                                                                    reparses, staged):
    stored = stored_through(app, people, staged, month=10)
    assert reparses and stored == reference and len(stored) == 40


def test_rows_staged_before_the_upgrade_to_format_2_commit_without_parsing_the_file(
        app, people, reference, no_reparse):
    """An upload previewed by the release before, confirmed after the upgrade."""
    earlier = module_at(FORMAT_1, "paydash/sheets/staging.py", "staging_format_1")
    upload_id = receive(app, people, TEMPLATE)
    rows = list(SalarySheet(TEMPLATE).rows())
    set_staged(app, upload_id, earlier.encode_rows(rows, hashlib.sha256(TEMPLATE).hexdigest()))
    assert confirm(app, people, upload_id) == UploadStatus.CONFIRMED.value
    assert stored_rows(app, people.tenant_a) == reference


def test_confirmed_upload_keeps_no_staged_rows(app, people):
    upload_id = receive(app, people, sheet(THREE))
    assert staged_of(app, upload_id) is not None
    confirm(app, people, upload_id)
    assert staged_of(app, upload_id) is None


def test_upload_rejected_at_commit_keeps_no_staged_rows(app, people, no_reparse):
    upload_id = receive(app, people, sheet(DUPLICATED))
    with app.app_context():
        # A commit without HR's keep-duplicates confirmation refuses the duplicated ids.
        summary = imports.commit_upload(upload_id, people.tenant_a)
    assert summary["status"] == UploadStatus.REJECTED.value
    assert staged_of(app, upload_id) is None and stored_rows(app, people.tenant_a) == []


def test_kept_duplicates_are_stored_from_the_staged_rows(app, people, no_reparse):
    upload_id = receive(app, people, sheet(DUPLICATED))
    confirm(app, people, upload_id, keep_duplicates=True)
    assert [r["key"] for r in stored_rows(app, people.tenant_a)] == ["RK", "RK#2"]


def test_discarded_upload_keeps_no_staged_rows(app, people):
    upload_id = receive(app, people, sheet(THREE))
    with app.app_context():
        imports.discard_upload(upload_id, people.tenant_a, people.hr_a)
    assert staged_of(app, upload_id) is None


def test_a_validation_that_crashed_keeps_no_staged_rows(app, people, monkeypatch):
    upload_id = receive(app, people, sheet(THREE))
    with app.app_context():
        db.session.execute(sa.update(Upload).where(Upload.id == upload_id)
                           .values(status=UploadStatus.FAILED.value))
        db.session.commit()

    def crash(*args, **kwargs):
        raise RuntimeError("reader crashed")
    monkeypatch.setattr("paydash.services.imports.read_salary_sheet", crash)
    with app.app_context(), pytest.raises(RuntimeError):
        imports.validate_upload(upload_id, people.tenant_a)
    assert staged_of(app, upload_id) is None


def test_on_postgresql_staged_rows_are_stored_used_and_cleared(tmp_path, pg_url, monkeypatch):
    app = make_app(base_config(tmp_path, pg_url, HUEY_IMMEDIATE=True))
    try:
        people = People(app)
        upload_id = receive(app, people, sheet(DUPLICATED))
        assert staged_of(app, upload_id).startswith(b"PDROWS2 ")
        monkeypatch.setattr("paydash.services.imports.SalarySheet", None)   # any re-parse would fail
        confirm(app, people, upload_id, keep_duplicates=True)
        assert [(r["key"], r["net"]) for r in stored_rows(app, people.tenant_a)] == [
            ("RK", Decimal("90.00")), ("RK#2", Decimal("180.00"))]
        assert staged_of(app, upload_id) is None
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
