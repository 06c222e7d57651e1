"""Where a salary table ends, and which rows under or inside it are not people (pure).

A row is left out, with its reason, when it
- repeats the header's words (a copy of the table turned on its side, a repeated header),
- is a lone note: one text with no pay figure (a name, a month word, "Prepared by"),
- holds figures but no name or code and adds up the rows above (a sums row without a label),
  or fills only a few of the table's columns,
- sits below the end of the table (after blank rows or the TOTAL row) and does not have
  the table's shape: a name or code, a net pay figure, and most of the usual columns.
Everything else goes on to the row checks, which report real mistakes as errors.
"""
from dataclasses import dataclass
from decimal import Decimal
from statistics import median

from paydash.sheets.columns import exact_field
from paydash.sheets.headers import Column
from paydash.sheets.rows import CellMemo
from paydash.sheets.rows import looks_like_total
from paydash.sheets.values import NotANumber
from paydash.sheets.values import is_blank
from paydash.sheets.values import to_text

MAX_LISTED = 200
IDENTITY = ("employee_code", "employee_name")
SHAPE_SHARE = 0.6       # a row without a name filling less than this is not a person's
CONTINUES_SHARE = 0.8   # below the table's end, a row must fill this much to carry it on
SPARSE_SEEN = 1000      # rows whose fill is measured to learn how sparse a person's row gets
SUM_TOLERANCE = Decimal(1)


@dataclass
class LeftOut:
    sheet: str
    row: int
    reason: str
    text: str

    def as_dict(self) -> dict:
        return {"sheet": self.sheet, "row": self.row, "reason": self.reason, "text": self.text}


class TableEdge:
    """Fed every row under the header in order; `belongs()` says whether it is table data."""

    def __init__(self, sheet: str, columns: list[Column], samples: list[list], header_row: int,
                 memo: CellMemo | None = None):
        # The converter's memo when there is one: the net pay cell parsed here is then
        # parsed once for both (see `CellMemo.decimal`); results are the same either way.
        self.memo = memo if memo is not None else CellMemo()
        by_field = {c.field: c for c in columns if c.field}
        self.sheet = sheet
        self.identity = [by_field[n].position for n in ("employee_code", "employee_name")
                         if n in by_field]
        self.net = by_field["net"].position if "net" in by_field else None
        self.mapped = [c.position for c in columns if c.field]
        self.first_is_identity = 0 in self.identity
        fills = [self._filled(row) for row in samples if self._identity(row)]
        self.typical = median(fills) if fills else len(self.mapped)
        self.sparsest: int | None = None    # the emptiest person's row seen above the end
        self.left_out: list[LeftOut] = []
        self.count = 0
        self.last = header_row
        self.ended: str | None = None
        self.net_sum = Decimal(0)
        self.kept = 0

    def belongs(self, number: int, cells: list) -> bool:
        """True for a row the row checks should see; False (listed or blank) otherwise."""
        # The reader skips rows that hold nothing, so a gap in the numbers is blank rows too.
        gap = self.last is not None and number > self.last + 1
        self.last = number
        if gap or not cells or is_blank(cells[0]) and all(is_blank(cell) for cell in cells):
            if self.kept:
                self.ended = "below blank rows that end the table"
            if not gap or all(is_blank(cell) for cell in cells):
                return False
        if not self.kept and _numbers_the_columns(cells):
            return self._leave(number, cells, "numbers the columns (1, 2, 3 …), under the header")
        identity = self._identity(cells)
        first = identity or to_text(next((cell for cell in cells if not is_blank(cell)), ""))
        if looks_like_total(first):
            self.ended = "below the TOTAL row"
            return True          # the row checks skip it and compare it with the rows' sums
        words = self._header_words(cells)
        if words:
            return self._leave(number, cells, f"repeats the header's words ({words})")
        net = self._number(cells, self.net)
        if identity and net is not None and not self.ended:
            if self.kept < SPARSE_SEEN:
                filled = self._filled(cells)
                self.sparsest = filled if self.sparsest is None else min(self.sparsest, filled)
            return self._keep(net)   # the usual row: a person and a net pay figure
        filled = self._filled(cells)
        if net is None and filled <= 1:
            return self._leave(number, cells, "a note: one text and no pay figures")
        if self.ended:
            if identity and net is not None and filled >= self._continues():
                self.ended = None
                return self._keep(net)
            return self._leave(number, cells, f"{self.ended}, without the table's shape")
        if not identity:
            return self._unnamed(number, cells, net, filled)
        return self._keep(net)

    def _continues(self) -> float:
        """How full a row below the end must be to carry the table on: as full as the
        table's own sparse rows, never fewer than a name, a net pay and one more figure."""
        return min(CONTINUES_SHARE * self.typical, max(3, self.sparsest or 3))

    def _unnamed(self, number: int, cells: list, net, filled: int) -> bool:
        if net is not None and self.kept > 1 and abs(net - self.net_sum) <= SUM_TOLERANCE:
            return self._leave(number, cells, "adds up the rows above (a sums row without a label)")
        if net is None or filled < SHAPE_SHARE * self.typical:
            return self._leave(number, cells, f"no name or code, and only {filled} of the "
                                              f"table's usual {self.typical:g} columns filled")
        return True              # a person's row missing a name: the row checks say so

    def _keep(self, net) -> bool:
        self.kept += 1
        if net is not None:
            self.net_sum += net
        return True

    def _leave(self, number: int, cells: list, reason: str) -> bool:
        self.count += 1
        if len(self.left_out) < MAX_LISTED:
            shown = " | ".join(to_text(c, 40) for c in cells if not is_blank(c))[:120]
            self.left_out.append(LeftOut(self.sheet, number, reason, shown))
        return False

    # --- Cells ------------------------------------------------------------------------

    def _identity(self, cells: list) -> str:
        for position in self.identity:
            value = cells[position] if position < len(cells) else ""
            if not is_blank(value):
                return to_text(value)
        return ""

    def _filled(self, cells: list) -> int:
        return sum(1 for p in self.mapped if p < len(cells) and not is_blank(cells[p]))

    def _number(self, cells: list, position: int | None):
        if position is None or position >= len(cells):
            return None
        try:
            return self.memo.decimal(cells[position])     # to_decimal, remembered
        except NotANumber:
            return None

    def _header_words(self, cells: list) -> str:
        """The header words in the row's name/code cells or its first text: '' when none."""
        texts = [cells[p] for p in self.identity if p < len(cells)]
        head = cells[0] if cells else ""
        if not (self.first_is_identity and head.__class__ is str and head and not head.isspace()):
            # The first text, unless it is column A's and that is the code or name (as usual).
            first = next((c for c in cells if isinstance(c, str) and c.strip()), "")
            if not any(first is text for text in texts):
                texts.append(first)
        for text in texts:
            field = exact_field(text)
            # 'Name' or 'Emp Code' under the name column is the header again; a longer
            # text that merely reads as a name header is left to the row checks.
            if field and (field not in IDENTITY or len(text.split()) <= 3):
                return f"'{text.strip()[:40]}'"
        return ""


def _numbers_the_columns(cells: list) -> bool:
    """A row of 1, 2, 3 … (or (1), (2) …) under the header: column numbers, not a person."""
    values = []
    for cell in cells:
        if is_blank(cell):
            continue
        text = to_text(cell).strip("() ")
        if not text.isdecimal():   # not isdigit: "²" is a digit to it, and int() refuses it
            return False
        values.append(int(text))
    return len(values) >= 3 and values == list(range(values[0], values[0] + len(values)))
