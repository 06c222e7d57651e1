"""Properties of every sheet Paydash accepts (issue 14): what is stored adds up to what the
preview showed, and no money field, stored or kept, holds anything but a number.
"""
import itertools
from decimal import Decimal

import sheet_builders as sb
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from paydash.extensions import db
from paydash.models import SalaryRow
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.services import imports

HEADERS = ("Emp Code", "Name", "Basic", "HRA", "PF", "Gross", "Total Deductions", "Net Pay")
MONTHS = itertools.count(1)

money_float = st.floats(min_value=0, max_value=2_000_000, allow_nan=False, allow_infinity=False)
money_text = st.builds(lambda v, fmt: fmt.format(v), st.decimals(
    min_value=0, max_value=500_000, places=2, allow_nan=False, allow_infinity=False),
    st.sampled_from(["{}", "₹ {:,}", "Rs. {:,}/-", "{:,}"]))
junk = st.sampled_from(["ten thousand", "NA", "12,000 approx", "TRUE", "#REF!"])
cell = st.one_of(money_float, st.integers(0, 900_000), money_text, st.none(), junk)
person_row = st.tuples(cell, cell, cell, money_float, cell, money_float)


def to_rows(people):
    return [[f"E{i}", f"Person {i}", *values] for i, values in enumerate(people)]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(staff=st.lists(person_row, min_size=1, max_size=6))
def test_an_accepted_sheet_stores_exactly_the_preview_totals_and_only_numbers(app, people, staff):
    number = next(MONTHS)
    year, month = 2030 + number // 12, number % 12 + 1
    data = sb.simple_sheet(to_rows(staff), headers=HEADERS)
    with app.app_context():
        upload_id = imports.receive_upload(people.tenant_a, people.hr_a, "p.xlsx", data, year,
                                           month).id
        upload = db.session.get(Upload, upload_id)
        if upload.status != UploadStatus.PREVIEW.value:
            assert upload.status == UploadStatus.REJECTED.value and upload.error_count
            return
        preview = upload.preview
        event("accepted")
        imports.confirm_upload(upload_id, people.tenant_a, people.hr_a,
                               keep_duplicates=True, acknowledge_checks=True)
        db.session.expire_all()
        rows = db.session.scalars(sa.select(SalaryRow).where(
            SalaryRow.upload_id == upload_id)).all()
        assert len(rows) == preview["employee_count"]
        for name in ("gross", "net", "total_deductions", "fixed_salary"):
            assert sum((Decimal(getattr(r, name)) for r in rows), Decimal(0)) == \
                Decimal(preview["totals"][name])
        for row in rows:
            for value in (row.extra or {}).values():
                assert Decimal(value).is_finite()


def test_text_in_a_kept_money_column_rejects_the_sheet(app, people):
    data = sb.simple_sheet(to_rows([("ten thousand", 0, 0, 100, 0, 100)]), headers=HEADERS)
    with app.app_context():
        upload = imports.receive_upload(people.tenant_a, people.hr_a, "p.xlsx", data, 2031, 1)
        assert upload.status == UploadStatus.REJECTED.value
        assert "'Basic': 'ten thousand' is not a number" in upload.preview["errors"][0]["message"]
