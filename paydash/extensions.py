"""The database extension, created unbound and bound to the app in `create_worker_app`.

Only what every process uses lives here: the consumer imports this module too. The web's
own extensions (forms' CSRF protection, Flask-Migrate) are made where the web is added to
the app, in `paydash.factory`.
"""
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def upsert_insert():
    """`insert` with ON CONFLICT for the database in use (SQLite and PostgreSQL share the API)."""
    name = db.session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"upserts are not implemented for {name}")
