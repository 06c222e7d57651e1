"""Turn one spreadsheet cell into a Decimal or a text value, the way HR reads it (pure)."""
import datetime as dt
import re
from decimal import ROUND_HALF_UP
from decimal import Decimal
from decimal import InvalidOperation

from paydash.formatting import indian_number

CENT = Decimal("0.01")

# "₹ 12,500", "Rs. 1,200/-", "INR 500", "(1,200)", "45,000.00": the ways people type money.
_CURRENCY = re.compile(r"₹|\brs\.?|\binr\b|/-\s*$", re.IGNORECASE)
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
# Typed for "nothing": an accountant's dash, "nil".
_ZERO_WORDS = {"-", "–", "—", "nil", "none"}
_INFINITIES = (float("inf"), float("-inf"))


class NotANumber(ValueError):
    """The cell holds something that is not a number; `shown` is how HR sees it."""

    def __init__(self, shown: str):
        super().__init__(shown)
        self.shown = shown


def is_blank(value) -> bool:
    """True for an empty cell (the reader gives "" for empty cells and uncached formulas)."""
    return value is None or (isinstance(value, str) and not value.strip())


def to_decimal(value) -> Decimal | None:
    """The cell as a Decimal rounded half-up to the paisa, None when empty; raises NotANumber.

    This is what will be paid: each amount to the paisa. Excel shows a General-format cell
    with all its decimals and its SUM adds them unrounded, so a column of values with a
    dozen decimals may differ from Paydash's total by a few paise; `to_exact` gives the
    unrounded value so the preview can say by how much.
    """
    return round_paisa(to_exact(value))


def round_paisa(number: Decimal | None) -> Decimal | None:
    """`to_exact`'s value as `to_decimal` gives it: `to_decimal(v)` is `round_paisa(to_exact(v))`
    (kept apart so a caller that needs both the exact and the rounded value parses once)."""
    if number is None or number == number.to_integral_value():
        return number
    try:
        return number.quantize(CENT, ROUND_HALF_UP)
    except InvalidOperation:
        return number  # more digits than any pay: left as it is for the range check to name


def to_exact(value) -> Decimal | None:
    """The cell as an unrounded Decimal, None when empty; raises NotANumber.

    Floats go through `repr` (the shortest text that round-trips), never through the
    binary value: 2.675 is 2.675, so it rounds to 2.68 as the sheet shows it.
    """
    if value.__class__ is float:
        if value.is_integer():
            return Decimal(int(value))
        if value != value or value in _INFINITIES:
            raise NotANumber(str(value))
        return Decimal(repr(value))
    if isinstance(value, bool):
        raise NotANumber("TRUE" if value else "FALSE")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise NotANumber(str(value))
        return value
    if isinstance(value, (dt.date, dt.time, dt.timedelta)):
        raise NotANumber(str(value))
    if value is None:
        return None
    return _text_to_decimal(str(value))


def _text_to_decimal(text: str) -> Decimal | None:
    raw = text.strip()
    if not raw:
        return None
    if raw.lower() in _ZERO_WORDS:
        return Decimal(0)
    cleaned = _CURRENCY.sub("", raw).replace(",", "").replace(" ", "").replace("\u00a0", "")
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    if negative:
        cleaned = cleaned[1:-1]
    if not _PLAIN_NUMBER.fullmatch(cleaned):
        raise NotANumber(raw)
    number = Decimal(cleaned)
    return -number if negative else number


def to_text(value, limit: int | None = None) -> str:
    """The cell as trimmed text: whole numbers without ".0" (codes typed as numbers)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, dt.datetime):
        text = value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    else:
        text = str(value)
    text = " ".join(text.split())
    return text[:limit] if limit else text


def shown(value) -> str:
    """How a raw cell value reads in a message (long text cut short)."""
    text = to_text(value)
    return text if len(text) <= 60 else text[:57] + "..."


def money_text(value: Decimal) -> str:
    """A Decimal as an exact 2-place string, as stored in preview JSON."""
    return str(value.quantize(CENT, ROUND_HALF_UP))


def grouped(value: Decimal) -> str:
    """12345678.5 -> '1,23,45,678.50' for messages, grouped as on every page (absurd sizes
    as 1.000E+300)."""
    if abs(value) >= Decimal("1e18"):
        return f"{value:.3E}"
    return indian_number(value, 2)
