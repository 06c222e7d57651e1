"""The app factory: `create_app(config=None)` builds the web app from `Config`, then `config`."""
import logging
import os
import pathlib
import sys
from collections.abc import Mapping

import sqlalchemy as sa
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

# The tasks register themselves with the broker's Huey, so the web app can enqueue them by name.
import tasks  # noqa: F401
from paydash import audit
from paydash import broker
from paydash import cli
from paydash import dbconnect
from paydash import formatting
from paydash.config import INSTANCE
from paydash.config import Config
from paydash.config import is_consumer
from paydash.extensions import csrf
from paydash.extensions import db
from paydash.extensions import migrate
from paydash.ledger import actions
from paydash.ledger import bridge
from paydash.ledger import jobs as jobs_ledger
from paydash.ledger.queue import configure_huey
from paydash.services import upload_recovery
from paydash.web import admin
from paydash.web import api
from paydash.web import auth
from paydash.web import dashboard
from paydash.web import errors
from paydash.web import jobs
from paydash.web import jobs_api
from paydash.web import metrics
from paydash.web import payroll
from paydash.web import security
from paydash.web import uploads

# templates/, static/ and migrations/ sit at the repository's top, beside app.py.
ROOT = pathlib.Path(__file__).resolve().parent.parent

logger = logging.getLogger(__name__)


def create_app(config: Mapping | None = None) -> Flask:
    """Build the app from `Config` (the environment), then `config` on top."""
    app = Flask(__name__, root_path=str(ROOT), instance_path=str(INSTANCE))
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    _check_secret(app)
    _size_pool(app)
    _configure_logging()
    os.makedirs(app.instance_path, exist_ok=True)
    if app.config["TRUST_PROXY_HEADERS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"),
                     render_as_batch=True)
    csrf.init_app(app)
    _tune_sqlite(app)

    configure_huey(broker.huey, app.config)
    app.extensions["huey"] = broker.huey
    app.extensions[actions.AUDIT_HOOK] = audit.record
    app.extensions[jobs_ledger.FAILED_HOOK] = upload_recovery.jobs_failed  # Issue 13, hole 8.
    if app.config.get("HUEY_IMMEDIATE"):
        bridge.use_app(app)

    for module in (auth, uploads, dashboard, payroll, jobs, jobs_api, api, admin, metrics):
        app.register_blueprint(module.bp)
    errors.init_app(app)
    formatting.init_app(app)
    security.init_app(app)
    cli.init_app(app)
    return app


def _check_secret(app: Flask) -> None:
    if not app.config.get("SECRET_KEY"):
        if app.config["ENV_NAME"] == "production":
            raise RuntimeError("SECRET_KEY must be set in production (see .env.example)")
        app.config["SECRET_KEY"] = "paydash-development-secret-change-me"


def _size_pool(app: Flask) -> None:
    """Give the connection pool room for every worker thread (see Config.DB_POOL_SIZE)."""
    options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///:memory:"):
        options.setdefault("pool_size", app.config["DB_POOL_SIZE"])
        options.setdefault("max_overflow", 10)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dbconnect.engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], options, app.config)  # Issue 13: keepalives, timeouts.


def _configure_logging() -> None:
    """One line per event on stdout (the platform collects it)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    huey_logger = logging.getLogger("huey")
    if huey_logger.handlers or is_consumer():
        # huey_consumer gives Huey's logger a handler of its own (after importing this, when
        # the app is built before the workers fork); without this every Huey line would be
        # printed twice, once more through the root handler.
        huey_logger.propagate = False


def _tune_sqlite(app: Flask) -> None:
    """WAL and a busy timeout: the web and worker processes write at the same time."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        @sa.event.listens_for(db.engine, "connect")
        def _on_connect(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
