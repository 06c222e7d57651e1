"""Insert many rows of one table the way each database is fastest, inside the session's transaction.

PostgreSQL: `COPY … FROM STDIN` through psycopg's `cursor.copy` (one stream, no statement
per row). SQLite: `executemany` on the raw sqlite3 connection (its C loop binds each row;
no SQLAlchemy per-row parameter handling, which was half of a 100,000-row commit). Values
go through each column's own SQLAlchemy bind processor (a JSON column's through one that
gives the same text faster, `_bind_processor`), and columns a row leaves out get
the column's scalar default, so what is stored is what `sa.insert(table)` stores, with
one difference in form: a JSON column given None is SQL NULL here, where `sa.insert`
writes the JSON text 'null' (the ORM reads both back as None). Any other database, or a
column with a default that must be computed, takes `session.execute(sa.insert(table), rows)`.
"""
import json
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from decimal import Decimal
from itertools import repeat
from json import encoder as json_encoder

import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import processors
from sqlalchemy.orm import Session


def insert_rows(session: Session, table: sa.Table, rows: Sequence[dict]) -> int:
    """Insert `rows` (dicts keyed by column name) into `table`; the number inserted."""
    if not rows:
        return 0
    named = set()
    for row in rows:
        named.update(row)
    connection = session.connection()
    plan = _plan(table, named, connection.dialect)
    if plan is None or connection.dialect.name not in ("postgresql", "sqlite"):
        session.execute(sa.insert(table), list(rows))
    else:
        _write(connection, table, plan, _values(plan, rows))
    return len(rows)


def insert_columns(session: Session, table: sa.Table, columns: Mapping[str, Sequence],
                   fixed: Mapping[str, object] | None = None,
                   decimal_texts: Collection[str] = ()) -> int:
    """Insert rows given by column; the number inserted.

    `columns` maps a column name to its values, one per row (all of one length); `fixed`
    a column name to the value every row has. What is stored is what `insert_rows` stores
    for the rows these make, without a dict per row: a staged import comes by column.

    The columns named in `decimal_texts` hold each Decimal as its own text (`str(Decimal)`,
    or None), as staged rows keep them, and store what that Decimal would, without one
    being made (`_decimals_bound`).
    """
    fixed = dict(fixed or {})
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    count = lengths.pop() if lengths else 0
    if not count:
        return 0
    both = set(columns) & set(fixed)
    if both:
        raise ValueError(f"column(s) {sorted(both)} given both per row and fixed")
    connection = session.connection()
    plan = _plan(table, set(columns) | set(fixed), connection.dialect)
    if plan is None or connection.dialect.name not in ("postgresql", "sqlite"):
        names = list(columns)
        given = [_decimals(columns[name]) if name in decimal_texts else columns[name]
                 for name in names]
        session.execute(sa.insert(table), [dict(zip(names, values), **fixed)
                                           for values in zip(*given)])
        return count
    values = []
    for name, default, process in plan:
        if name in columns:
            column = columns[name]
            if name in decimal_texts:
                column = _decimals_bound(column, process)
            elif process is not None:
                column = [None if value is None else process(value) for value in column]
        else:
            value = fixed[name] if name in fixed else default
            if value is not None and process is not None:
                value = process(value)
            column = repeat(value, count)
        values.append(column)
    _write(connection, table, plan, zip(*values))
    return count


def _decimals(texts: Sequence) -> list:
    return [None if text is None else Decimal(text) for text in texts]


def _decimals_bound(texts: Sequence, process) -> Sequence:
    """Decimals given as their text, as the fast paths bind the Decimals themselves.

    PostgreSQL (no bind processor: psycopg's COPY writes a Decimal as `str(Decimal)`): the
    text itself. SQLite (the processor is `float(Decimal)`, which CPython works out by
    parsing the Decimal's own text): `float(text)`, the very same float. Another processor
    gets the Decimal.
    """
    if process is None:
        return texts
    if process is processors.to_float:
        return _floats(texts)

    def convert(text):
        return process(Decimal(text))
    if None in texts:
        return [None if text is None else convert(text) for text in texts]
    return list(map(convert, texts))


_SAMPLE = 64   # texts looked at to choose how a column is converted


def _floats(texts: Sequence) -> list:
    """`float(text)` of each text (None stays None), each different text converted once.

    A salary sheet's columns repeat a few values (days, zeros, fixed salaries): looking the
    float up is a third of making it. A column whose first texts are nearly all different
    (net pay) is converted text by text, as building the lookup would cost more than it saves.
    """
    sample = texts[:_SAMPLE]
    if len(set(sample)) > len(sample) // 2:
        if None in texts:
            return [None if text is None else float(text) for text in texts]
        return list(map(float, texts))
    converted = dict.fromkeys(texts)
    for text in converted:
        if text is not None:
            converted[text] = float(text)
    return list(map(converted.__getitem__, texts))


def _json_dumps_encoder():
    """`json.dumps(value)` with its defaults, as a function that does not build a new encoder
    on every call as `json.dumps` does (two thirds of its time for a small dict). None where
    the C encoder is missing or does not give exactly what `json.dumps` gives."""
    make = getattr(json_encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        # markers None: no check for a value that contains itself (JSON read back has none).
        encode = make(None, json.JSONEncoder().default, json_encoder.encode_basestring_ascii,
                      None, ": ", ", ", False, False, True)
    except TypeError:   # another Python's signature
        return None

    def dumps(value) -> str:
        return "".join(encode(value, 0))
    sample = {"a": ["ü\n\"", 1.5, 10**20, None, True, {}], "é": {"x": -0.0}}
    return dumps if dumps(sample) == json.dumps(sample) else None


_JSON_DUMPS = _json_dumps_encoder()


def _bind_processor(column: sa.Column, dialect):
    """The column's SQLAlchemy bind processor, or a faster one that gives the same value.

    A JSON column, where the engine has no serializer of its own, gets `json.dumps`'s text
    from `_JSON_DUMPS`: SQLite stores that text, and PostgreSQL's COPY takes it as psycopg
    would have written its `Json` wrapper (with `json.dumps`), without SQLAlchemy's wrapper
    per value. Only for the fast paths, which never give a processor None.
    """
    if (isinstance(column.type, sa.JSON) and _JSON_DUMPS is not None
            and dialect.name in ("postgresql", "sqlite")
            and getattr(dialect, "_json_serializer", None) is None):
        return _JSON_DUMPS
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _plan(table: sa.Table, named: set, dialect) -> list[tuple] | None:
    """(column name, default, bind processor) for each column the insert writes, or None.

    The columns are those named plus those with a default; a server-generated primary key
    is left to the database.
    """
    unknown = named - set(table.columns.keys())
    if unknown:
        raise KeyError(f"{table.name} has no column(s) {sorted(unknown)}")
    plan = []
    for column in table.columns:
        default = column.default
        if column.name not in named and default is None:
            continue
        if default is not None and not default.is_scalar:
            return None
        plan.append((column.name, default.arg if default is not None else None,
                     _bind_processor(column, dialect)))
    return plan


def _values(plan: list[tuple], rows: Sequence[dict]):
    """Each row's values in plan order, defaults and bind processors applied.

    Column by column (a list comprehension per column, then zip): a Python loop per value
    was most of a 100,000-row insert. Missing key: the column's default; None is never
    given to a processor, as in `sa.insert`.
    """
    columns = []
    for name, default, process in plan:
        values = [row.get(name, default) for row in rows]
        if process is not None:
            values = [None if value is None else process(value) for value in values]
        columns.append(values)
    return zip(*columns)


def _write(connection, table: sa.Table, plan: list[tuple], rows) -> None:
    """`rows` (value tuples in plan order) by COPY on PostgreSQL, executemany on SQLite."""
    raw = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        _copy(raw, table, plan, rows)
    else:
        _executemany(raw, table, plan, rows)


def _copy(raw, table: sa.Table, plan: list[tuple], rows) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(name) for name, _d, _p in plan))
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for values in rows:
            copy.write_row(values)


def _executemany(raw, table: sa.Table, plan: list[tuple], rows) -> None:
    names = ", ".join(f'"{name}"' for name, _d, _p in plan)
    marks = ", ".join("?" for _ in plan)
    cursor = raw.cursor()
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', rows)
    finally:
        cursor.close()
