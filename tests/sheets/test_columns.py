"""What a header means, however people write it, and when it means something else."""
import pytest

from paydash.sheets.columns import contents
from paydash.sheets.columns import guess_from_contents
from paydash.sheets.columns import recognise_header
from paydash.sheets.columns import veto_by_contents


@pytest.mark.parametrize(("header", "field"), [
    ("Take-Home Pay (₹)", "net"), ("In Hand Amt.", "net"), ("Net Amount Payable", "net"),
    ("Amount credited to bank", "net"), ("NET  PAY:", "net"), ("Payable", "net"),
    ("Tot. Earnings", "gross"), ("Gross Earned", "gross"), ("Wages earned", "gross"),
    ("Dept.", "department"), ("Name of Department", "department"), ("Branch", "department"),
    ("Emp. Name", "employee_name"), ("Staff ID", "employee_code"), ("Token No.", "employee_code"),
    ("Total Ded.", "total_deductions"), ("No. of Days", "paid_days"), ("Payable Days", "paid_days"),
    ("LOP Days", "absent_days"), ("Gross Rate", "fixed_salary"), ("Monthly CTC", "fixed_salary"),
    # The tenant's own template keeps its meanings: AMT is the late deduction, OT is hours.
    ("AMT", "late_deduction"), ("OT", "ot_hours"), ("SAL+OT", "gross"), ("NETT PAYABLE", "net"),
])
def test_a_header_is_read_by_what_it_means(header, field):
    assert recognise_header(header).field == field


@pytest.mark.parametrize("header", ["Father's Name", "PF No.", "ESI No", "Bank Account No",
                                    "Employer PF", "UAN", "Remarks", "Date of joining"])
def test_a_header_whose_other_words_say_it_is_something_else_is_not_taken(header):
    assert recognise_header(header).field is None


def test_the_reason_says_how_the_header_was_read():
    seen = recognise_header("Take-Home Pay (₹)")
    assert (seen.confidence, seen.reason) == ("likely", "the header contains 'take home'")
    assert recognise_header("Net Pay").confidence == "sure"


def test_cells_of_words_veto_an_amount_header_matched_by_a_phrase():
    found = contents(["Paid", "Paid", "Pending", "Paid"])
    assert "mostly words" in veto_by_contents("net", found)


def test_a_column_of_different_names_is_recognised_without_a_header():
    found = contents(["Ravi Kumar", "Asha Iyer", "Imran Khan", "Pooja Das"])
    assert guess_from_contents(found, set()).field == "employee_name"
    assert guess_from_contents(found, {"employee_name"}) is None
