"""Numbers as Indian HR users read them: 1,00,000 and 12,34,567.50, never 100,000.

The browser formats with `Intl.NumberFormat("en-IN")` (static/js/app.js `Paydash.fmt`); the
server-rendered pages use these pure functions so both show the same text. Python's `locale`
module is deliberately not used: its output depends on the locales installed on the machine.

Templates use two filters (registered by `init_app`):

    {{ count|num }}             1,23,456        whole numbers (counts, whole rupees)
    {{ salary|amount }}         12,34,567.50    money with paise (two decimals)
    {{ rate|num(1) }}           1,234.5         any other number of decimals

Rules:
- Grouping: the last three digits, then groups of two (12,34,56,789), as `en-IN` does.
- Exactly `decimals` decimal places, rounded half-up (0.005 -> 0.01, 2.5 -> 3, -2.5 -> -3:
  halves go away from zero, as `Intl.NumberFormat` does), the way money is shown. A float is
  taken at its shortest repr (0.005, not 0.005000000000000000104),
  so a float shows what it prints as.
- A negative number keeps its sign in front (-1,00,000); a value that rounds to zero shows
  no sign (-0.001 with two decimals is "0.00").
- None gives "—" (an em dash), the placeholder the templates and the `duration` filter already
  show for an unknown value. Templates that want 0 for None keep saying `(x or 0)|num`.
- Accepted: int, float, Decimal and strings of numbers ("1234567.5", " -42 "). Anything else
  (bool, NaN, infinity, "12,345", "abc") raises TypeError or ValueError: a page should fail
  loudly rather than show a wrong figure.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP
from decimal import Context
from decimal import Decimal
from decimal import InvalidOperation

MISSING = "—"


def indian_number(value, decimals: int = 0) -> str:
    """`value` with Indian digit grouping and exactly `decimals` decimal places (see above)."""
    if isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"decimals must be a whole number >= 0, not {decimals!r}")
    if value is None:
        return MISSING
    number = _to_decimal(value)
    digits = max(number.adjusted(), 0) + decimals + 2
    rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP,
                              context=Context(prec=max(digits, 28)))
    text = format(abs(rounded), "f")
    whole, _, fraction = text.partition(".")
    sign = "-" if rounded < 0 else ""  # -0.00 compares equal to 0: no sign for a zero
    return sign + _group(whole) + ("." + fraction if decimals else "")


def amount(value) -> str:
    """Money with paise: `indian_number(value, 2)`."""
    return indian_number(value, 2)


def init_app(app) -> None:
    """Register the `num` and `amount` template filters."""
    app.add_template_filter(indian_number, "num")
    app.add_template_filter(amount, "amount")


def _to_decimal(value) -> Decimal:
    if isinstance(value, bool):
        raise TypeError("a bool is not a number to show")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        raise TypeError(f"cannot format {type(value).__name__} as a number")
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number


def _group(whole: str) -> str:
    """'123456789' -> '12,34,56,789'."""
    if len(whole) <= 3:
        return whole
    head, tail = whole[:-3], whole[-3:]
    pairs = []
    while head:
        pairs.append(head[-2:])
        head = head[:-2]
    return ",".join(reversed(pairs)) + "," + tail
