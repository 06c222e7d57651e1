"""Decide which column is which field for one sheet, and say why (pure).

Input: the header row, the first data rows (to see what the columns hold and to let the
numbers settle a choice between two candidates) and the mapping HR gave or Paydash
remembered for this layout. Output: `Plan`, whose `columns` feed the row converter and
whose `entries` are the table HR sees and can change.
"""
import hashlib
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal

from paydash.sheets import columns as recognition
from paydash.sheets.headers import FIELDS
from paydash.sheets.headers import QUIET_HEADERS
from paydash.sheets.headers import Column
from paydash.sheets.headers import column_letter
from paydash.sheets.headers import normalise_header
from paydash.sheets.values import NotANumber
from paydash.sheets.values import is_blank
from paydash.sheets.values import to_decimal

RANK = {"yours": 4, "remembered": 4, recognition.SURE: 3, "numbers": 3, recognition.LIKELY: 2,
        recognition.GUESS: 1}
DEDUCTION_PARTS = ("tds", "advance", "late_deduction", "other_deductions", "pf", "esi",
                   "professional_tax")
TOLERANCE = Decimal(1)      # rupees: sheets round each figure
AGREE = 0.6                 # share of sample rows that must agree for the numbers to decide


@dataclass
class Entry:
    """One column: what it was read as, how sure, and why."""

    column: Column
    confidence: str | None
    reason: str
    holds: str
    alternatives: list[str] = dataclass_field(default_factory=list)

    def as_dict(self) -> dict:
        spec = FIELDS.get(self.column.field) if self.column.field else None
        entry = {"column": self.column.letter, "header": self.column.header,
                 "name": spec.name if spec else None,
                 "field": ("extra" if spec.extra else spec.name) if spec else None,
                 "label": spec.label if spec else None, "confidence": self.confidence,
                 "reason": self.reason, "holds": self.holds,
                 "alternatives": self.alternatives}
        if spec and spec.extra:
            entry["key"] = spec.name
        return entry


@dataclass
class Plan:
    signature: str
    entries: list[Entry]
    notes: list[str] = dataclass_field(default_factory=list)

    @property
    def columns(self) -> list[Column]:
        return [entry.column for entry in self.entries]

    @property
    def fields(self) -> set[str]:
        return {c.field for c in self.columns if c.field}

    def as_list(self) -> list[dict]:
        return [entry.as_dict() for entry in self.entries]


def layout_signature(header_cells: list) -> str:
    """The same for every sheet whose headers say the same words in the same columns."""
    parts = [f"{column_letter(i)}={normalise_header(str(cell))}"
             for i, cell in enumerate(header_cells) if not is_blank(cell)]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:24]


def plan_columns(header_cells: list, samples: list[list],
                 chosen: dict[str, str] | None = None, chosen_by: str = "yours") -> Plan:
    """The columns of a header row, each with its field, confidence and reason.

    `chosen` maps a column letter to a field name ("" to ignore it): HR's own choices,
    which win over anything Paydash recognised.
    """
    chosen = chosen or {}
    entries = []
    width = max([len(header_cells), *(len(row) for row in samples)])
    for position in range(width):
        cell = _at(header_cells, position)
        header = " ".join(str(cell).split()) if not is_blank(cell) else ""
        letter = column_letter(position)
        found = recognition.contents([_at(row, position) for row in samples])
        if not header and not found.filled and letter not in chosen:
            continue      # a column with no header and nothing in it: nothing to map
        column = Column(position, position, header or f"(column {letter})", None)
        entries.append(_recognise(column, found, chosen, chosen_by))
    plan = Plan(layout_signature(header_cells), entries)
    _settle_duplicates(plan, samples)
    _guess_identity(plan, samples)
    return plan


def _recognise(column: Column, found, chosen: dict, chosen_by: str) -> Entry:
    holds = found.describe()
    if column.letter in chosen:
        name = chosen[column.letter] or None
        column.field = name if name in FIELDS else None
        why = ("you chose this" if chosen_by == "yours"
               else "remembered from an earlier upload of this layout")
        return Entry(column, chosen_by, why, holds)
    seen = recognition.recognise_header(column.header)
    if seen.field:
        # A known header keeps its field whatever the cells hold: text where a number
        # belongs is then a row error for HR, never a column silently dropped.
        veto = seen.confidence != recognition.SURE and recognition.veto_by_contents(seen.field,
                                                                                    found)
        if veto:
            return Entry(column, None, f"the header suggests "
                                       f"{FIELDS[seen.field].label.lower()}, but {veto}", holds)
        column.field = seen.field
        return Entry(column, seen.confidence, seen.reason, holds)
    if normalise_header(column.header) in QUIET_HEADERS:
        return Entry(column, None, "a serial number or signature column", holds)
    return Entry(column, None, seen.reason, holds)


def _settle_duplicates(plan: Plan, samples: list[list]) -> None:
    """One column per field: HR's choice first, then the numbers, then the surest header."""
    by_field: dict[str, list[Entry]] = {}
    for entry in plan.entries:
        if entry.column.field:
            by_field.setdefault(entry.column.field, []).append(entry)
    for name in ("net", "gross"):
        group = by_field.get(name, [])
        if len(group) > 1 and not any(e.confidence in ("yours", "remembered") for e in group):
            _settle_by_numbers(plan, name, group, samples, by_field)
    for name, group in by_field.items():
        live = [e for e in group if e.column.field == name]
        if len(live) < 2:
            continue
        winner = max(live, key=lambda e: RANK.get(e.confidence, 0))
        for entry in live:
            if entry is not winner:
                _drop(entry, f"column {winner.column.letter} was used for "
                             f"{FIELDS[name].label.lower()} ({winner.reason})")


def _drop(entry: Entry, reason: str) -> None:
    entry.column.field = None
    entry.confidence = None
    entry.reason = reason


def _settle_by_numbers(plan: Plan, name: str, group: list[Entry], samples: list[list],
                       by_field: dict) -> None:
    values = {id(e): _numbers(samples, e.column.position) for e in group}
    deductions = _deductions(samples, by_field)
    label = FIELDS[name].label.lower()
    if not any(deductions):
        target = None      # without deductions the sums cannot tell the candidates apart
    elif name == "net":
        gross = _single(by_field, "gross")
        target = [g - d if g is not None and d is not None else None
                  for g, d in zip(_numbers(samples, gross.column.position), deductions)] \
            if gross else None
    else:
        net = _single(by_field, "net")
        target = [n + d if n is not None and d is not None else None
                  for n, d in zip(_numbers(samples, net.column.position), deductions)] \
            if net else None
    winner, why = None, ""
    if target is not None:
        scored = [(_agreement(values[id(e)], target), e) for e in group]
        share, best = max(scored, key=lambda item: item[0])
        if share >= AGREE:
            formula = "gross − deductions" if name == "net" else "net + deductions"
            winner, why = best, f"{formula} equals this column on {share:.0%} of the rows read"
    if winner is None:
        winner, why = _smaller_on_every_row(group, values, name)
    if winner is None:
        winner = group[-1] if name == "net" else group[0]
        why = ("the rightmost of the columns that could be net pay (sheets work out the "
               "amount paid last)" if name == "net" else "the first of the gross columns")
    letters = [e.column.letter for e in group]
    winner.confidence, winner.reason = "numbers", f"chosen from columns {', '.join(letters)}: {why}"
    winner.alternatives = [letter for letter in letters if letter != winner.column.letter]
    for entry in group:
        if entry is winner:
            continue
        entry.alternatives = [winner.column.letter]
        _second_role(entry, winner, name, values, deductions, by_field, label)
    plan.notes.append(f"Columns {', '.join(letters)} could each be {label}; Paydash chose "
                      f"column {winner.column.letter} ({why}). Change it in the table if "
                      "that is wrong.")


def _second_role(entry: Entry, winner: Entry, name: str, values: dict, deductions: list,
                 by_field: dict, label: str) -> None:
    """The candidate not chosen: net before deductions is the gross; a larger gross the rate."""
    mine, theirs = values[id(entry)], values[id(winner)]
    if name == "net" and "gross" not in by_field:
        before = [m - d if m is not None and d is not None else None
                  for m, d in zip(mine, deductions)]
        if _agreement(before, theirs) >= AGREE:
            entry.column.field, entry.confidence = "gross", "numbers"
            entry.reason = (f"pay before deductions: this column minus the deductions equals "
                            f"column {winner.column.letter}, so it is read as the gross")
            return
    if name == "gross" and "fixed_salary" not in by_field and _all_at_least(mine, theirs):
        entry.column.field, entry.confidence = "fixed_salary", "numbers"
        entry.reason = (f"the monthly rate: at least the earned gross of column "
                        f"{winner.column.letter} on every row")
        return
    _drop(entry, f"could also be {label}, but column {winner.column.letter} was chosen")


def _smaller_on_every_row(group: list[Entry], values: dict, name: str):
    """Net after deductions, or the earned gross, is never above the other candidate."""
    for entry in group:
        others = [e for e in group if e is not entry]
        if all(_all_at_least(values[id(o)], values[id(entry)]) for o in others):
            if any(values[id(o)] != values[id(entry)] for o in others):
                why = ("never more than the other column, as pay after deductions is"
                       if name == "net" else
                       "never more than the other column, as the gross earned for the "
                       "days paid is (the other is the monthly rate)")
                return entry, why
    return None, ""


def _guess_identity(plan: Plan, samples: list[list]) -> None:
    taken = plan.fields
    for entry in plan.entries:
        if entry.column.field or entry.confidence in ("yours", "remembered"):
            continue
        found = recognition.contents([_at(row, entry.column.position) for row in samples])
        guess = recognition.guess_from_contents(found, taken)
        if guess:
            entry.column.field, entry.confidence, entry.reason = (guess.field, guess.confidence,
                                                                  guess.reason)
            taken.add(guess.field)


# --- Numbers of the sample rows ----------------------------------------------------------

def _at(row: list, position: int):
    return row[position] if position < len(row) else ""


def _numbers(samples: list[list], position: int) -> list[Decimal | None]:
    out = []
    for row in samples:
        try:
            out.append(to_decimal(_at(row, position)))
        except NotANumber:
            out.append(None)
    return out


def _single(by_field: dict, name: str) -> Entry | None:
    group = [e for e in by_field.get(name, []) if e.column.field == name]
    return group[0] if len(group) == 1 else None


def _deductions(samples: list[list], by_field: dict) -> list[Decimal | None]:
    total = _single(by_field, "total_deductions")
    if total:
        return [v if v is not None else Decimal(0) for v in _numbers(samples, total.column.position)]
    parts = [_single(by_field, n) for n in DEDUCTION_PARTS]
    columns = [_numbers(samples, p.column.position) for p in parts if p]
    return [sum((c[i] or Decimal(0) for c in columns), Decimal(0)) for i in range(len(samples))]


def _agreement(values: list, target: list) -> float:
    pairs = [(v, t) for v, t in zip(values, target) if v is not None and t is not None]
    if not pairs:
        return 0.0
    return sum(abs(v - t) <= TOLERANCE for v, t in pairs) / len(pairs)


def _all_at_least(big: list, small: list) -> bool:
    pairs = [(b, s) for b, s in zip(big, small) if b is not None and s is not None]
    return bool(pairs) and all(b >= s for b, s in pairs)
