"""Checks that a converted salary row's amounts can be right, beyond being numbers (pure).

A finding is an *error* when the row cannot be right whatever the sheet means (net pay
below zero, a negative gross, negative days or hours), so the sheet must be fixed; it is a
*warning* when the row may be right but usually is a typing slip (net above gross, gross
minus the deductions not matching net, a negative deduction that may be a refund), so HR
must look at it and acknowledge it before Confirm, as with employee ids used twice.
"""
from dataclasses import dataclass
from decimal import Decimal

from paydash.sheets.headers import FIELDS
from paydash.sheets.values import grouped

ERROR = "error"
WARNING = "warning"
# Rounding each amount to the paisa (or net to the rupee) moves a row by less than this.
TOLERANCE = Decimal(1)
ZERO = Decimal(0)
# Amounts that cannot be below zero in any sheet: a row with one is an error.
NEVER_NEGATIVE = ("gross", "net")
# Columns that are deductions on classic sheets (gross − these = net).
DEDUCTION_FIELDS = ("tds", "advance", "other_deductions")
STATUTORY_PARTS = ("pf", "esi", "professional_tax")
# Columns of the tenant's own template whose relation to net is not "gross − deductions"
# (advances carried over, pay after TDS, incentive added after gross): with any of them
# the itemised check would flag correct rows, so only the stated total is checked.
LOOSE_SHEET_FIELDS = ("advance_25th", "old_advance", "total_old_advance", "salary_after_tds",
                      "incentive", "late_deduction")


@dataclass(frozen=True)
class Finding:
    """One thing wrong, or possibly wrong, with a row; `amount` is by how much."""

    severity: str
    kind: str
    field: str
    message: str
    amount: Decimal | None = None


def check_row(record: dict, extra: dict, present: set[str], headers: dict[str, str],
              sheet_row: int) -> list[Finding]:
    """Findings for one converted row (money already Decimal); empty when it looks right.

    `present` names the fields the sheet has as columns, `headers` their headers as the
    sheet spells them. Errors come first; when a row has an error no warning is added,
    since the fix will change the row anyway.
    """
    where = _Where(sheet_row, headers)
    errors = _negatives(record, extra, where)
    if any(finding.severity == ERROR for finding in errors):
        return [f for f in errors if f.severity == ERROR]
    return errors + _balance(record, extra, present, where)


class RowChecks:
    """`check_row` for the rows of one sheet, its columns worked out once.

    A row that has no negative amount and balances (the usual row) is told so without
    building a message; any other row goes through `check_row` itself, so every finding
    is the one `check_row` gives.
    """

    def __init__(self, present: set[str], headers: dict[str, str]):
        self.present, self.headers = present, headers
        self.numeric = [(field, FIELDS[field].extra) for field in headers
                        if FIELDS[field].kind != "text"]
        self.balance = "gross" in present and "net" in present
        self.total = "total_deductions" in present
        self.itemised = None   # None: the deductions cannot be told (see _deductions)
        if not self.total and not present & set(LOOSE_SHEET_FIELDS) and \
                any(f in present for f in DEDUCTION_FIELDS + STATUTORY_PARTS):
            self.itemised = [f for f in DEDUCTION_FIELDS if f in present]
            self.statutory = ([f for f in STATUTORY_PARTS if f in present]
                              if "other_deductions" not in present else [])

    def check(self, record: dict, extra: dict, sheet_row: int,
              not_negative: bool = False) -> list[Finding]:
        """`check_row`'s findings; `not_negative`: the caller knows no amount is below zero."""
        if not not_negative:
            for field, is_extra in self.numeric:
                value = extra.get(field) if is_extra else record.get(field)
                if isinstance(value, Decimal) and value < 0:
                    return check_row(record, extra, self.present, self.headers, sheet_row)
        if not self.balance:
            return []
        gross, net = record["gross"], record["net"]
        if net - gross <= TOLERANCE:
            if self.total:
                deductions = record["total_deductions"]
            elif self.itemised is not None:
                parts = [record[f] for f in self.itemised]
                parts += [extra[f] for f in self.statutory if isinstance(extra.get(f), Decimal)]
                deductions = sum(parts, ZERO)
            else:
                return []
            if abs(net - (gross - deductions)) <= TOLERANCE:
                return []
        return _balance(record, extra, self.present, _Where(sheet_row, self.headers))


class _Where:
    def __init__(self, sheet_row: int, headers: dict[str, str]):
        self.row = sheet_row
        self.headers = headers

    def column(self, field: str) -> str:
        header = self.headers.get(field)
        return f"column '{header}'" if header else FIELDS[field].label.lower()

    def __call__(self, field: str) -> str:
        return f"Row {self.row}, {self.column(field)}"


def _negatives(record: dict, extra: dict, where: _Where) -> list[Finding]:
    findings = []
    # Only the sheet's own columns: a derived amount is explained by the columns it came from.
    for field in where.headers:
        spec = FIELDS[field]
        if spec.kind == "text":
            continue
        value = extra.get(field) if spec.extra else record.get(field)
        if not isinstance(value, Decimal) or value >= 0:
            continue
        if field in NEVER_NEGATIVE or spec.kind == "quantity":
            what = "net pay" if field == "net" else spec.label.lower()
            findings.append(Finding(
                ERROR, "negative", field,
                f"{where(field)}: {what} is {grouped(value)}, below zero, which cannot be "
                f"paid. Correct the amount (0 when nothing is due).", value))
        else:
            findings.append(Finding(
                WARNING, "negative", field,
                f"{where(field)}: {grouped(value)} is negative. Right only for a refund or a "
                "correction; otherwise remove the minus sign.", value))
    return findings


def _balance(record: dict, extra: dict, present: set[str], where: _Where) -> list[Finding]:
    """Net above gross, or gross − deductions ≠ net beyond a rupee (only with a gross column)."""
    if "gross" not in present or "net" not in present:
        return []
    gross, net = record["gross"], record["net"]
    if net - gross > TOLERANCE:
        return [Finding(
            WARNING, "net_above_gross", "net",
            f"{where('net')}: net pay {grouped(net)} is more than the gross pay "
            f"{grouped(gross)} (by {grouped(net - gross)}). Check both cells.", net - gross)]
    deductions, named = _deductions(record, extra, present)
    if deductions is None:
        return []
    expected = gross - deductions
    gap = net - expected
    if abs(gap) <= TOLERANCE:
        return []
    more_or_less = "more" if gap > 0 else "less"
    return [Finding(
        WARNING, "deductions", "net",
        f"{where('net')}: gross {grouped(gross)} − {named} {grouped(deductions)} = "
        f"{grouped(expected)}, but net pay is {grouped(net)} ({grouped(abs(gap))} "
        f"{more_or_less}). Check the net and the deductions.", gap)]


def _deductions(record: dict, extra: dict, present: set[str]) -> tuple[Decimal | None, str]:
    """The row's deductions as the sheet states them, or None when it cannot be told."""
    if "total_deductions" in present:
        return record["total_deductions"], "total deductions"
    if present & set(LOOSE_SHEET_FIELDS):
        return None, ""
    parts = [record[f] for f in DEDUCTION_FIELDS if f in present]
    if "other_deductions" not in present:
        parts += [extra[f] for f in STATUTORY_PARTS
                  if f in present and isinstance(extra.get(f), Decimal)]
    if not any(f in present for f in DEDUCTION_FIELDS + STATUTORY_PARTS):
        return None, ""
    return sum(parts, ZERO), "deductions"
