"""The app factories, both from `Config` (the environment), then `config` on top.

`create_app(config=None)` builds the web app (gunicorn, `flask --app app`, the tests);
`create_worker_app(config=None)` builds the app the consumer runs tasks in: the same app
without the web's pages, forms, migrations and commands. The web's modules are imported
only when the web is added (`_add_web`), so the consumer never loads them: with them an
idle consumer held about 1,200 modules (alembic, mako, pygments, wtforms, limits, segno,
prometheus_client...) and a scrypt hash's 32 MiB peak it never used (issue 18).
"""
import logging
import os
import pathlib
import sys
from collections.abc import Mapping

import sqlalchemy as sa
from flask import Flask

# The tasks register themselves with the broker's Huey, so the web app can enqueue them by name.
import tasks  # noqa: F401
from paydash import audit
from paydash import broker
from paydash import dbconnect
from paydash import formatting
from paydash.config import INSTANCE
from paydash.config import Config
from paydash.config import is_consumer
from paydash.extensions import db
from paydash.ledger import actions
from paydash.ledger import bridge
from paydash.ledger import jobs as jobs_ledger
from paydash.ledger.queue import configure_huey
from paydash.services import upload_recovery

# templates/, static/ and migrations/ sit at the repository's top, beside app.py.
ROOT = pathlib.Path(__file__).resolve().parent.parent

logger = logging.getLogger(__name__)


def create_app(config: Mapping | None = None) -> Flask:
    """The web app: the worker's app with the web's pages, forms, migrations and commands.

    The web's modules are imported here, not at the top, so that the consumer, which builds
    its app with `create_worker_app`, never loads them (see the module's docstring); and
    before the app is built, as they were when they sat at the top: alembic logs each of
    its plugins at import, which `_configure_logging` would then print.
    """
    from flask_migrate import Migrate  # noqa: PLC0415  web only: alembic, mako, pygments
    from flask_wtf.csrf import CSRFProtect  # noqa: PLC0415  web only: wtforms
    from werkzeug.middleware.proxy_fix import ProxyFix  # noqa: PLC0415

    from paydash import cli  # noqa: PLC0415  web only: `flask --app app` commands
    from paydash.web import account  # noqa: PLC0415  the web's modules, none of them the worker's
    from paydash.web import admin  # noqa: PLC0415
    from paydash.web import alerts  # noqa: PLC0415
    from paydash.web import api  # noqa: PLC0415
    from paydash.web import auth  # noqa: PLC0415
    from paydash.web import dashboard  # noqa: PLC0415
    from paydash.web import errors  # noqa: PLC0415
    from paydash.web import jobs  # noqa: PLC0415
    from paydash.web import jobs_api  # noqa: PLC0415
    from paydash.web import metrics  # noqa: PLC0415
    from paydash.web import payroll  # noqa: PLC0415
    from paydash.web import security  # noqa: PLC0415
    from paydash.web import times  # noqa: PLC0415
    from paydash.web import uploads  # noqa: PLC0415

    app = create_worker_app(config)
    if app.config["TRUST_PROXY_HEADERS"]:
        hops = app.config.get("PROXY_COUNT", 1)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    Migrate(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    CSRFProtect(app)

    for module in (auth, uploads, dashboard, payroll, jobs, jobs_api, api, admin, metrics, account):
        app.register_blueprint(module.bp)
    app.register_blueprint(alerts.bp)  # Issue 19: alert settings.
    errors.init_app(app)
    formatting.init_app(app)
    security.init_app(app)
    times.init_app(app)
    cli.init_app(app)
    return app


def create_worker_app(config: Mapping | None = None) -> Flask:
    """The app tasks run in (`huey_app.py`): database, queue and the ledger's hooks, no web."""
    app = Flask(__name__, root_path=str(ROOT), instance_path=str(INSTANCE))
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    _check_secret(app)
    _size_pool(app)
    _configure_logging()
    os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    _tune_sqlite(app)

    configure_huey(broker.huey, app.config)
    app.extensions["huey"] = broker.huey
    app.extensions[actions.AUDIT_HOOK] = audit.record
    app.extensions[jobs_ledger.FAILED_HOOK] = upload_recovery.jobs_failed  # Issue 13, hole 8.
    if app.config.get("HUEY_IMMEDIATE"):
        bridge.use_app(app)
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
