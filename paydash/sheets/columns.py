"""Recognise what a column holds from its header's meaning and its cells (pure).

A header is matched in three steps, each less sure than the one before:
1. word for word against the known headers (`headers.SYNONYMS`), as always;
2. the same words once abbreviations are spelt out and plurals folded
   ("Emp. Name" -> "employee name", "Tot. Earnings" -> "total earning");
3. a key phrase anywhere in the header ("Take-Home Pay (₹)" holds "take home"), the
   longest phrase winning, unless the header also holds a word that says it is something
   else ("Father's Name" is not the employee's name, "PF No." is not a PF amount).
The cells then confirm or veto the header (a "Net Pay" column of words is not net pay),
and name or code columns whose header says nothing are recognised by what they hold.
"""
import re
from dataclasses import dataclass

from paydash.sheets.headers import FIELDS
from paydash.sheets.headers import SYNONYMS
from paydash.sheets.headers import field_for_header
from paydash.sheets.headers import normalise_header
from paydash.sheets.values import NotANumber
from paydash.sheets.values import is_blank
from paydash.sheets.values import to_decimal

SURE, LIKELY, GUESS = "sure", "likely", "guess"

ABBREVIATIONS = {
    "amt": "amount", "amnt": "amount", "tot": "total", "ttl": "total", "emp": "employee",
    "empl": "employee", "employe": "employee", "dept": "department", "deptt": "department",
    "dep": "department", "sal": "salary", "ded": "deduction", "dedn": "deduction",
    "desig": "designation", "desg": "designation", "adv": "advance", "hrs": "hour", "hr": "hour",
    "min": "minute", "mins": "minute", "mts": "minute", "conv": "conveyance", "spl": "special",
    "allow": "allowance", "allw": "allowance", "no": "number", "num": "number", "nos": "number",
    "nett": "net", "pymt": "payment", "pmt": "payment", "earn": "earning", "qty": "quantity",
    "prof": "professional", "incent": "incentive", "att": "attendance", "atten": "attendance",
    "takehome": "take home", "inhand": "in hand", "esic": "esi", "epf": "pf", "ctc": "ctc",
    "wrk": "worked", "wd": "working day", "pd": "paid day", "lwp": "lop", "gr": "gross",
}
_KEEP_S = {"gross", "less", "process", "class", "tds", "days"}

# Phrases that name a field when they appear anywhere in a header (written as people
# write them; they are normalised like headers before use).
KEY_PHRASES = {
    "net": ["net", "take home", "in hand", "payable", "amount credited", "credited to bank",
            "paid to bank", "bank transfer", "amount paid", "salary paid", "final pay",
            "final amount", "cash paid"],
    "gross": ["gross", "total earnings", "earned salary", "salary earned", "earned gross",
              "gross earned", "total pay", "earnings", "total salary", "wages earned",
              "earned wages", "earned pay"],
    "fixed_salary": ["fixed salary", "monthly salary", "ctc", "salary rate", "rate of pay",
                     "monthly rate", "standard salary", "actual salary", "scheduled", "gross rate",
                     "rate of salary"],
    "total_deductions": ["deductions", "total deductions", "total ded"],
    "other_deductions": ["other deductions", "misc deductions", "sundry deductions"],
    "employee_code": ["code", "id", "employee number", "staff number", "token number",
                      "card number", "payroll number", "emp no", "ref number", "reference"],
    "employee_name": ["name", "employee name", "staff name"],
    "department": ["department", "division", "section", "branch", "site", "location",
                   "cost centre", "cost center", "unit"],
    "designation": ["designation", "position", "job title", "role", "post"],
    "paid_days": ["paid days", "present days", "days present", "days worked", "worked days",
                  "payable days", "working days", "attendance", "days paid", "no of days"],
    "absent_days": ["absent", "lop", "leave without pay", "absent days"],
    "ot_hours": ["ot hours", "overtime hours"],
    "ot_pay": ["ot amount", "overtime amount", "ot pay", "overtime pay", "overtime", "ot wages"],
    "incentive": ["incentive", "bonus", "commission"],
    "tds": ["tds", "income tax", "tax deducted"],
    "advance": ["advance", "loan", "advance recovery"],
    "basic": ["basic"],
    "hra": ["hra", "house rent"],
    "conveyance": ["conveyance", "transport allowance"],
    "special_allowance": ["special allowance"],
    "pf": ["pf", "provident fund"],
    "esi": ["esi"],
    "professional_tax": ["professional tax", "prof tax", "p tax"],
}

# Words that say a header is not about the field its key phrase names.
NOT_IDENTITY = {"father", "husband", "mother", "spouse", "guardian", "bank", "account", "ifsc",
                "uan", "pan", "aadhaar", "aadhar", "mobile", "phone", "email", "pf", "esi",
                "date", "signature", "branch", "department", "designation", "company"}
NOT_AMOUNT = {"number", "id", "code", "date", "name", "remark", "remarks", "ifsc", "account",
              "percent", "%", "rate", "mode", "status", "uan", "employer"}
NOT_PLACE = {"code", "id", "number"}
SAMPLE_CHECKED = 50


@dataclass(frozen=True)
class Recognition:
    """What a header (or a column's cells) says the column is, how sure, and why."""

    field: str | None
    confidence: str | None
    reason: str


def words(text) -> tuple[str, ...]:
    """A header as canonical words: 'Tot. Earnings (₹)' -> ('total', 'earning')."""
    out = []
    for token in normalise_header(str(text)).replace("/", " ").replace("-", " ").split():
        token = ABBREVIATIONS.get(token, token)
        for part in token.split():
            if len(part) > 3 and part.endswith("s") and part not in _KEEP_S:
                part = part[:-1]
            out.append(part)
    return tuple(out)


def _phrase_table() -> tuple[dict, list]:
    exact, phrases = {}, []
    for name, texts in SYNONYMS.items():
        for text in texts:
            exact.setdefault(words(text), name)
    for name, texts in KEY_PHRASES.items():
        for text in texts:
            exact.setdefault(words(text), name)
            phrases.append((words(text), name, text))
    phrases.sort(key=lambda item: -len(item[0]))
    return exact, phrases


_EXACT_WORDS, _PHRASES = _phrase_table()
# Phrases by their first word, each with its rank in _PHRASES (longest first), so a header
# is scanned once instead of once per phrase.
_BY_FIRST_WORD: dict[str, list] = {}
for _rank, (_phrase, _name, _written) in enumerate(_PHRASES):
    _BY_FIRST_WORD.setdefault(_phrase[0], []).append((_rank, _phrase, _name, _written))


_FIRST = re.compile(r"[^\W_]+")
# Every word a known header can start with, as written: most names and codes start with
# none of them, so the check for a repeated header costs a set look-up per row.
_FIRST_WORDS = {match.group(0) for texts in (*SYNONYMS.values(), *KEY_PHRASES.values())
                for text in texts if (match := _FIRST.search(text.casefold()))} | set(ABBREVIATIONS)

# Their first four characters, for those of four or more (see `exact_field`).
_FIRST_FOURS = {word[:4] for word in _FIRST_WORDS if len(word) >= 4}


def exact_field(text) -> str | None:
    """The field a header names word for word (after abbreviations), without phrase search."""
    if text.__class__ is str:
        # Issue 18: the usual name or code ("E1042", "Ravi Kumar") is told apart without
        # case-folding it and searching it for its first word, since this runs on every row.
        # Four ASCII letters or digits at the start are where the first word starts (they
        # are word characters, and not "_"), case-fold to their lower case one for one, and
        # make a first word of four or more; a known first word of four or more starts with
        # its own four, so a text whose four are none of _FIRST_FOURS has no known first word.
        four = text[:4]
        if len(four) == 4 and four.isascii() and four.isalnum() and \
                four.lower() not in _FIRST_FOURS:
            return None
    if not isinstance(text, str) or len(text) > 60:
        return None
    first = _FIRST.search(text.casefold())
    if first is None or first.group(0) not in _FIRST_WORDS:
        return None
    return field_for_header(text) or _EXACT_WORDS.get(words(text))


def recognise_header(text) -> Recognition:
    """The field a header means, with how sure Paydash is and why."""
    if not isinstance(text, str) or not text.strip():
        return Recognition(None, None, "no header")
    field = field_for_header(text)
    if field:
        return Recognition(field, SURE, f"'{text.strip()}' is a known header for "
                                        f"{FIELDS[field].label.lower()}")
    tokens = words(text)
    field = _EXACT_WORDS.get(tokens)
    if field:
        return Recognition(field, SURE, f"'{text.strip()}' reads as "
                                        f"'{' '.join(tokens)}', a known header")
    found = sorted({(rank, phrase, name, written)
                    for i, token in enumerate(tokens)
                    for rank, phrase, name, written in _BY_FIRST_WORD.get(token, ())
                    if tokens[i:i + len(phrase)] == phrase})
    for _rank, phrase, name, written in found:
        if not _vetoed(name, tokens, phrase):
            return Recognition(name, LIKELY, f"the header contains '{written}'")
    return Recognition(None, None, "the header names nothing Paydash stores")


def _vetoed(field: str, tokens: tuple, phrase: tuple) -> bool:
    others = set(tokens) - set(phrase)
    kind = FIELDS[field].kind
    if field in ("employee_code", "employee_name"):
        return bool(others & NOT_IDENTITY)
    if field in ("department", "designation"):
        return bool(others & NOT_PLACE)
    if kind in ("money", "quantity"):
        return bool(others & NOT_AMOUNT)
    return False


# --- What the cells hold ------------------------------------------------------------------

_NAME = re.compile(r"^[^\W\d_][^\d]*$")
_CODE = re.compile(r"^[A-Za-z]{0,6}[-/ ]?\d{1,8}[A-Za-z]?$")


@dataclass
class Contents:
    """A summary of a column's sample cells."""

    filled: int = 0
    numbers: int = 0
    names: int = 0
    codes: int = 0
    days: int = 0
    distinct: int = 0

    def share(self, count: int) -> float:
        return count / self.filled if self.filled else 0.0

    def describe(self) -> str:
        if not self.filled:
            return "empty in the rows read"
        if self.share(self.numbers) >= 0.8:
            return "holds days (0–31)" if self.share(self.days) >= 0.9 else "holds amounts"
        if self.share(self.codes) >= 0.8:
            return "holds codes"
        if self.share(self.names) >= 0.8:
            return "holds names"
        return "holds text"


def contents(cells: list) -> Contents:
    """Count what kind of values the sample cells of one column are."""
    summary, seen = Contents(), set()
    for value in cells:
        if is_blank(value):
            continue
        summary.filled += 1
        seen.add(str(value).strip().casefold())
        try:
            number = to_decimal(value)
        except NotANumber:
            number = None
        if number is not None and not isinstance(value, bool):
            summary.numbers += 1
            summary.days += 0 <= number <= 31
            continue
        text = str(value).strip()
        if _CODE.match(text):
            summary.codes += 1
        elif _NAME.match(text) and len(text) <= 80:
            summary.names += 1
    summary.distinct = len(seen)
    return summary


def veto_by_contents(field: str, found: Contents) -> str | None:
    """Why the cells contradict the header's field, or None when they agree."""
    if found.filled < 3:
        return None
    kind = FIELDS[field].kind
    if kind in ("money", "quantity") and found.share(found.numbers) < 0.5:
        return f"its cells are mostly words, not numbers ({found.describe()})"
    if field in ("employee_name", "department", "designation") and found.share(found.numbers) > 0.8:
        return "its cells are numbers, not names"
    return None


def guess_from_contents(found: Contents, taken: set[str]) -> Recognition | None:
    """A name or code column whose header says nothing, recognised by its cells."""
    if found.filled < 3:
        return None
    distinct = found.distinct >= 0.9 * found.filled
    if "employee_name" not in taken and found.share(found.names) >= 0.8 and distinct:
        return Recognition("employee_name", GUESS, "the header says nothing, but the cells "
                                                   "hold a different name on each row")
    if "employee_code" not in taken and found.share(found.codes) >= 0.8 and distinct:
        return Recognition("employee_code", GUESS, "the header says nothing, but the cells "
                                                   "hold a different code on each row")
    return None
