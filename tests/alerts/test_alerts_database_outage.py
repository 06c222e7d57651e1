"""A real database outage: a private PostgreSQL of this test's own is stopped under the real
consumer. Operators hear of it once while it lasts (from memory: nothing can be written),
once when it is back, and the outage is then written down with both messages."""
import os
import shutil
import subprocess
import tempfile

import pytest
import sqlalchemy as sa
from conftest import base_config
from conftest import free_port
from conftest import make_app
from conftest import wait_for
from receivers import SmtpServer
from receivers import WebhookReceiver

from paydash.extensions import db
from paydash.ledger.models import Worker
from paydash.models import AlertDelivery
from paydash.models import AlertState

pytestmark = pytest.mark.slow
OPS = "oncall@ops.test"
PG_BIN = "/usr/local/bin"


class PrivatePostgres:
    """initdb + pg_ctl in a temporary directory, run as the `postgres` system user."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="paydash-alerts-pg-")
        shutil.chown(self.dir, "postgres")
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120)

    def init(self):
        self._as_postgres(f"{PG_BIN}/initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "postgres")
        return self

    def start(self):
        self._as_postgres(f"{PG_BIN}/pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "-o",
                          f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", "start")

    def stop(self):
        self._as_postgres(f"{PG_BIN}/pg_ctl", "-D", f"{self.dir}/data", "-m", "immediate", "-w", "stop")

    def remove(self):
        if os.path.exists(f"{self.dir}/data/postmaster.pid"):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres():
    if not os.path.exists(f"{PG_BIN}/initdb") or shutil.which("runuser") is None:
        pytest.skip("initdb/pg_ctl are not installed")
    server = PrivatePostgres().init()
    server.start()
    yield server
    server.remove()


def db_subjects(smtp) -> list[str]:
    return [s for s in smtp.mailbox.to(OPS) if "The database unreachable" in s]


def db_texts(hook) -> list[str]:
    return [t for t in hook.texts("/platform") if "The database unreachable" in t]


def test_a_database_stopped_then_started_sends_one_alert_and_one_all_clear(tmp_path, private_postgres,
                                                                         start_consumer):
    with SmtpServer() as smtp, WebhookReceiver() as hook:
        settings = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port, "ALERT_OPERATOR_EMAILS": OPS,
                    "ALERT_OPERATOR_WEBHOOK_URL": f"{hook.url}/platform", "ALERT_DIGEST_HOUR": 24,
                    "ALERT_PROBE_SECONDS": 0.5, "ALERT_OUTAGE_SECONDS": 3}
        app = make_app(base_config(tmp_path, private_postgres.url, **settings))
        start_consumer(app, workers=1, **settings)

        def worker_registered():
            with app.app_context():
                return db.session.scalar(sa.select(sa.func.count()).select_from(Worker)) > 0
        wait_for(worker_registered, timeout=60, message="the consumer to start")
        with app.app_context():
            db.engine.dispose()  # The test's own connections must not outlive the server.
        private_postgres.stop()
        wait_for(lambda: db_subjects(smtp), timeout=60, message="the database outage alert")
        private_postgres.start()
        # The email goes first, then the webhook: wait for both all-clears.
        wait_for(lambda: len(db_subjects(smtp)) == 2 and len(db_texts(hook)) == 2, timeout=90,
                 message="the all-clear")
        assert [s.split(":", 1)[0] for s in db_subjects(smtp)] == ["[Paydash] Problem", "[Paydash] All clear"]
        assert [t.split(":", 1)[0] for t in db_texts(hook)] == ["*[Paydash] Problem", "*[Paydash] All clear"]
        with app.app_context():
            db.engine.dispose()  # The pool's connections died with the server.

        def recorded():
            with app.app_context():
                rows = db.session.execute(
                    sa.select(AlertDelivery.kind, AlertDelivery.channel, AlertDelivery.status)
                    .join(AlertState, AlertState.id == AlertDelivery.alert_id)
                    .where(AlertState.condition == "database_down", AlertState.status == "cleared",
                           AlertState.notified.is_(True))).all()
                return sorted(rows) == [("clear", "email", "sent"), ("clear", "webhook", "sent"),
                                        ("open", "email", "sent"), ("open", "webhook", "sent")]
        # The worker marks the webhook's row sent just after posting it.
        wait_for(recorded, timeout=30, message="the outage and its four messages written down")
