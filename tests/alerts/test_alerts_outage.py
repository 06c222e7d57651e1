"""A real broker outage: the consumer's watch tells operators once when Redis has been down
for longer than ALERT_OUTAGE_SECONDS, and once when it is back. Redis here is a private
redis-server of this test's own, killed and started again on the same port."""
import shutil

import pytest
from conftest import People
from conftest import base_config
from conftest import make_app
from conftest import wait_for
from ledger.test_no_job_lost import PrivateRedis
from receivers import SmtpServer
from receivers import WebhookReceiver

from paydash.extensions import db
from paydash.ledger.models import Worker

pytestmark = pytest.mark.slow
OPS = "oncall@ops.test"


def queue_subjects(smtp) -> list[str]:
    return [s for s in smtp.mailbox.to(OPS) if "The job queue (Redis) unreachable" in s]


def queue_texts(hook) -> list[str]:
    return [t for t in hook.texts("/platform") if "The job queue (Redis) unreachable" in t]


def test_redis_killed_then_restarted_sends_one_alert_and_one_all_clear(tmp_path, sqlite_url, start_consumer):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis(tmp_path).start()
    try:
        with SmtpServer() as smtp, WebhookReceiver() as hook:
            settings = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port, "ALERT_OPERATOR_EMAILS": OPS,
                        "ALERT_OPERATOR_WEBHOOK_URL": f"{hook.url}/platform", "ALERT_DIGEST_HOUR": 24,
                        "ALERT_PROBE_SECONDS": 0.5, "ALERT_OUTAGE_SECONDS": 3, "ALERT_CLEAR_AFTER_SECONDS": 0}
            app = make_app(base_config(tmp_path, sqlite_url, REDIS_URL=redis.url, **settings))
            People(app)
            start_consumer(app, workers=1, **settings)

            def worker_registered():
                with app.app_context():
                    return db.session.query(Worker).count() > 0
            wait_for(worker_registered, timeout=60, message="the consumer to start")
            redis.stop()
            wait_for(lambda: queue_subjects(smtp), timeout=60, message="the broker outage alert")
            redis.start()
            wait_for(lambda: len(queue_subjects(smtp)) == 2 and len(queue_texts(hook)) == 2, timeout=60,
                     message="the all-clear by email and webhook")
            subjects = queue_subjects(smtp)
            assert [s.split(":", 1)[0] for s in subjects] == ["[Paydash] Problem", "[Paydash] All clear"]
            assert [t.split(":", 1)[0] for t in queue_texts(hook)] == ["*[Paydash] Problem", "*[Paydash] All clear"]
    finally:
        redis.stop()
