"""PostgreSQL connections carry keepalives and bounded idle transactions and lock waits."""
import time

import pytest
import sqlalchemy as sa
from conftest import PG_ADMIN_URL
from conftest import base_config
from conftest import make_app

from paydash import dbconnect
from paydash.extensions import db


@pytest.fixture
def pg_app(tmp_path, pg_url):
    apps = []

    def make(**settings):
        app = make_app(base_config(tmp_path, pg_url, **settings))
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def show(conn, name: str) -> str:
    return conn.exec_driver_sql(f"SHOW {name}").scalar()


def test_every_connection_asks_for_keepalives_and_limits_scaled_to_the_lease(pg_app):
    app = pg_app(LEASE_SECONDS=120)
    with app.app_context(), db.engine.connect() as conn:
        assert show(conn, "idle_in_transaction_session_timeout") == "2min"
        assert show(conn, "lock_timeout") == "3min"
        assert show(conn, "tcp_keepalives_idle") == "30"
        assert show(conn, "tcp_keepalives_interval") == "10"
        assert show(conn, "tcp_keepalives_count") == "4"
        libpq = conn.connection.dbapi_connection.info.get_parameters()
        assert libpq["keepalives"] == "1" and libpq["keepalives_idle"] == "30"


def test_sqlite_gets_no_postgresql_options():
    options = dbconnect.engine_options("sqlite:///x.db", {"pool_pre_ping": True}, {})
    assert options == {"pool_pre_ping": True}


def test_a_deployers_pgoptions_still_apply(monkeypatch):
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=300")
    options = dbconnect.engine_options("postgresql+psycopg://h/db", {}, {"LEASE_SECONDS": 60})
    assert options["connect_args"]["options"].endswith("-c lock_timeout=300")


def test_a_transaction_left_idle_by_a_frozen_worker_stops_holding_its_locks(pg_app):
    app = pg_app(DB_IDLE_IN_TRANSACTION_SECONDS=1)
    with app.app_context():
        db.session.execute(sa.text("CREATE TABLE held (id int PRIMARY KEY, n int)"))
        db.session.execute(sa.text("INSERT INTO held VALUES (1, 0)"))
        db.session.commit()
        frozen = db.engine.connect()
        frozen.begin()
        frozen.exec_driver_sql("UPDATE held SET n = 1 WHERE id = 1")  # The row lock...
        time.sleep(2)  # ...and then the worker freezes.
        takeover = sa.create_engine(db.engine.url, connect_args={"options": "-c lock_timeout=10s"})
        with takeover.begin() as conn:
            conn.exec_driver_sql("UPDATE held SET n = 2 WHERE id = 1")
        takeover.dispose()
        frozen.invalidate()


def test_no_statement_waits_on_a_lock_past_the_limit(pg_app):
    app = pg_app(DB_LOCK_TIMEOUT_SECONDS=1)
    admin = sa.create_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + str(pg_app_db(app)))
    with app.app_context():
        db.session.execute(sa.text("CREATE TABLE locked (id int)"))
        db.session.commit()
        with admin.connect() as holder:
            holder.begin()
            holder.exec_driver_sql("LOCK TABLE locked IN ACCESS EXCLUSIVE MODE")
            # A statement timeout far above the limit, so that without the limit this fails
            # rather than waiting for good.
            db.session.execute(sa.text("SET LOCAL statement_timeout = '20s'"))
            with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                db.session.execute(sa.text("SELECT * FROM locked")).all()
            db.session.rollback()
    admin.dispose()


def pg_app_db(app) -> str:
    return sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
