"""The fields Paydash stores and the headers known for them, word for word (pure).

Recognising headers written other ways, and by what their cells hold, is `sheets.columns`."""
import re
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Field:
    """A column Paydash understands: a SalaryRow column, or a key kept in SalaryRow.extra."""

    name: str
    label: str
    kind: str                      # "text", "money" or "quantity"
    limit: Decimal | int = 0       # the largest magnitude (numbers) or length (text) stored
    extra: bool = False


MONEY_LIMIT = Decimal("999999999999.99")      # Numeric(14, 2)
DAYS_LIMIT = Decimal("9999.99")               # Numeric(6, 2)
COUNT_LIMIT = Decimal("99999999.99")          # Numeric(10, 2)
# The sheet of instructions in the template Paydash hands out (sheets.exports writes it).
HELP_SHEET = "How to fill"


def _money(name, label, extra=False):
    return Field(name, label, "money", MONEY_LIMIT, extra)


FIELDS = {f.name: f for f in (
    Field("employee_code", "Employee code", "text", 64),
    Field("employee_name", "Employee name", "text", 200),
    Field("department", "Department", "text", 120),
    Field("designation", "Designation", "text", 120),
    _money("fixed_salary", "Fixed salary"),
    Field("paid_days", "Paid days", "quantity", DAYS_LIMIT),
    Field("absent_days", "Absent days", "quantity", DAYS_LIMIT),
    Field("ot_hours", "OT hours", "quantity", COUNT_LIMIT),
    _money("ot_pay", "OT pay"),
    Field("late_minutes", "Late minutes", "quantity", COUNT_LIMIT),
    _money("late_deduction", "Late deduction"),
    _money("incentive", "Incentive"),
    _money("gross", "Gross pay"),
    _money("tds", "TDS"),
    _money("advance", "Advance"),
    _money("other_deductions", "Other deductions"),
    _money("total_deductions", "Total deductions"),
    _money("net", "Net pay"),
    # Known columns with no SalaryRow column of their own: kept, as text, in `extra`.
    _money("basic", "Basic (kept)", extra=True),
    _money("hra", "HRA (kept)", extra=True),
    _money("conveyance", "Conveyance (kept)", extra=True),
    _money("special_allowance", "Special allowance (kept)", extra=True),
    _money("pf", "PF (kept, counted in other deductions)", extra=True),
    _money("esi", "ESI (kept, counted in other deductions)", extra=True),
    _money("professional_tax", "Professional tax (kept, counted in other deductions)", extra=True),
    _money("salary_without_ot", "Salary without OT (kept)", extra=True),
    _money("ot_rate", "OT rate per hour (kept)", extra=True),
    _money("late_rate", "Late charge per minute (kept)", extra=True),
    _money("advance_25th", "25th advance (kept)", extra=True),
    _money("old_advance", "Old advance (kept)", extra=True),
    _money("total_old_advance", "Total old advance (kept)", extra=True),
    _money("advance_balance", "Advance balance (kept)", extra=True),
    _money("salary_after_tds", "Salary after TDS (kept)", extra=True),
)}

# Extra columns that are deductions: their sum is `other_deductions` when the sheet has
# no column of that name (classic sheets: PF + ESI + professional tax).
OTHER_DEDUCTION_PARTS = ("pf", "esi", "professional_tax")

# Normalised header text -> field name. The tenant's template comes first: OT is hours,
# CHARGES is OT pay, LATE is minutes, AMT is the late deduction, SAL+OT is gross.
SYNONYMS = {
    "employee_code": ["employee id", "emp id", "empid", "employee code", "emp code", "empcode",
                      "e code", "ecode", "code", "id", "emp no", "employee no", "employee number",
                      "staff id", "staff code", "staff no", "id no", "token no", "card no"],
    "employee_name": ["name", "employee name", "emp name", "name of employee", "name of the employee",
                      "staff name", "employee", "full name", "employee full name"],
    "department": ["department", "dept", "department name", "division", "section"],
    "designation": ["designation", "desig", "position", "post", "job title", "role"],
    "fixed_salary": ["salary", "fixed salary", "monthly salary", "fixed", "ctc", "monthly ctc",
                     "rate", "salary rate", "fixed pay"],
    "paid_days": ["days", "paid days", "days paid", "present days", "days present", "days worked",
                  "worked days", "payable days", "present", "working days"],
    "absent_days": ["absent", "absent days", "days absent", "lop", "lop days", "leave without pay"],
    "ot_hours": ["ot", "ot hours", "ot hrs", "ot hr", "overtime hours", "overtime hrs"],
    "ot_pay": ["charges", "ot pay", "ot amount", "ot amt", "ot charges", "overtime",
               "overtime pay", "overtime amount", "ot wages"],
    "late_minutes": ["late", "late minutes", "late mins", "late min", "late mts"],
    "late_deduction": ["amt", "late deduction", "late amount", "late amt", "late fine",
                       "late charges"],
    "incentive": ["incentive", "incentives", "bonus", "performance incentive"],
    "gross": ["gross", "gross pay", "gross salary", "sal+ot", "salary+ot", "gross earnings",
              "total earnings", "gross amount", "gross wages", "total salary"],
    "tds": ["tds", "income tax", "tax deducted at source"],
    "advance": ["advance", "adv", "advance deduction", "salary advance", "advance recovery"],
    "other_deductions": ["other deductions", "other deduction", "others deduction", "misc deduction",
                         "misc deductions"],
    "total_deductions": ["total deductions", "total deduction", "deductions", "total ded",
                         "deduction"],
    "net": ["net pay", "net", "nett payable", "net payable", "net salary", "nett salary", "nett",
            "nett pay", "take home", "net amount", "net paid", "amount payable", "net pay amount",
            "in hand", "net wages"],
    "basic": ["basic", "basic pay", "basic salary"],
    "hra": ["hra", "house rent allowance"],
    "conveyance": ["conveyance", "conveyance allowance", "conv", "conveyance all"],
    "special_allowance": ["special allowance", "spl allowance", "special all", "spl all"],
    "pf": ["pf", "epf", "provident fund", "pf employee"],
    "esi": ["esi", "esic"],
    "professional_tax": ["prof tax", "professional tax", "pt", "p tax", "prof tax pt"],
    "salary_without_ot": ["sl w/o ot", "sal w/o ot", "salary w/o ot", "salary without ot"],
    "ot_rate": ["hour", "hour rate", "ot rate", "rate per hour", "hourly rate", "per hour"],
    "late_rate": ["charge", "late charge", "late rate"],
    "advance_25th": ["25th adv", "25th advance"],
    "old_advance": ["old adv", "old advance"],
    "total_old_advance": ["total old adv", "total old advance"],
    "advance_balance": ["balnce adv", "balance adv", "balance advance", "adv balance", "bal adv"],
    "salary_after_tds": ["sal-tds", "salary-tds", "salary after tds"],
}

# Columns every sheet has that carry nothing to import; ignored without a warning.
QUIET_HEADERS = {"sr no", "s no", "sl no", "sno", "srno", "serial no", "serial", "#", "sign",
                 "signature", "receiver signature", "employee signature"}

_SYNONYM_TO_FIELD = {text: name for name, texts in SYNONYMS.items() for text in texts}
_CURRENCY_WORDS = re.compile(r"₹|\b(rs|inr|in rs|in inr|rupees)\b")
_PUNCTUATION = re.compile(r"[^\w+\-/#%]+")
_OPERATOR_SPACES = re.compile(r"\s*([+\-/])\s*")
_TOTAL_TEXT = re.compile(r"^(grand |sub |net )?totals?\b|^sum\b")


def normalise_header(text: str) -> str:
    """Fold case, drop ₹/Rs./INR, dots, colons and brackets: 'Net Pay (₹):' -> 'net pay'."""
    folded = str(text).casefold().replace("\u00a0", " ")
    folded = _PUNCTUATION.sub(" ", folded.replace(".", " "))
    folded = _CURRENCY_WORDS.sub(" ", folded)
    folded = _OPERATOR_SPACES.sub(r"\1", " ".join(folded.split()))
    return folded.strip(" -/")


def field_for_header(text) -> str | None:
    """The field a header names, or None."""
    if not isinstance(text, str):
        return None
    return _SYNONYM_TO_FIELD.get(normalise_header(text))


def is_total_text(text) -> bool:
    """'TOTAL', 'Grand Total:', 'Totals' — a row of sums, not a person."""
    return isinstance(text, str) and bool(_TOTAL_TEXT.match(normalise_header(text)))


def column_letter(index: int) -> str:
    """Letters of a 0-based column: 0 -> 'A', 26 -> 'AA', 16383 -> 'XFD'."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass
class Column:
    """One header cell and the field Paydash reads it as (see `sheets.plan`)."""

    index: int          # 0-based column of the sheet (0 is A)
    position: int       # where the cell sits in the reader's row list
    header: str
    field: str | None

    @property
    def letter(self) -> str:
        return column_letter(self.index)
