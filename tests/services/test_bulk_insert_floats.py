"""The staged numbers' floats for SQLite, each text converted once (`bulk_insert._floats`).

Whatever the column, repeated or not, with None or without, every value is exactly
`float(text)` (the same double, the same sign of zero, NaN where the text says so):
what the commit binds and SQLite stores is what it was before.
"""
import math
import struct

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy.engine import processors

from paydash.services import bulk_insert

TEXTS = st.one_of(
    st.none(),
    st.sampled_from(["0", "-0", "0.00", "-0.00", "30", "1083.33", "1E+2", "NaN", "-Infinity",
                     "0.1", "12345678901234567.89"]),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.floats(allow_nan=False).map(repr))


def bits(value):
    return None if value is None else struct.pack("<d", value)


def expected(texts):
    return [None if text is None else float(text) for text in texts]


@settings(max_examples=400, deadline=None)
@given(texts=st.one_of(st.lists(TEXTS, max_size=300),
                       st.lists(TEXTS, min_size=1, max_size=8).flatmap(
                           lambda few: st.lists(st.sampled_from(few), max_size=300))))
def test_each_value_is_the_float_of_its_text(texts):
    got = bulk_insert._decimals_bound(texts, processors.to_float)
    assert [bits(value) for value in got] == [bits(value) for value in expected(texts)]


def test_repeated_and_different_columns_both_convert_exactly():
    repeated = ["0", "30", None, "-0"] * 500
    different = [f"{n / 7:.2f}" for n in range(2000)] + [None]
    for texts in (repeated, different):
        got = bulk_insert._decimals_bound(texts, processors.to_float)
        assert [bits(value) for value in got] == [bits(value) for value in expected(texts)]
    nan = bulk_insert._decimals_bound(["NaN"] * 100, processors.to_float)
    assert all(math.isnan(value) for value in nan)
