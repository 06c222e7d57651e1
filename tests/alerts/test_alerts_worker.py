"""Alerts are sent from the worker: the real consumer runs `check_alerts` and the message
reaches a real SMTP server and webhook receiver, once."""
import datetime as dt
import time

import pytest
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import make_app
from conftest import wait_for
from receivers import SmtpServer
from receivers import WebhookReceiver

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import actions
from paydash.ledger.models import Job
from paydash.models import AlertDelivery

pytestmark = pytest.mark.slow


def test_the_worker_sends_a_failed_job_alert_once(tmp_path, sqlite_url, start_consumer):
    with SmtpServer() as smtp, WebhookReceiver() as hook:
        settings = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port, "ALERT_OPERATOR_EMAILS": "oncall@ops.test",
                    "ALERT_OPERATOR_WEBHOOK_URL": f"{hook.url}/platform", "ALERT_DIGEST_HOUR": 24,
                    "ALERT_PROBE_SECONDS": 1}
        app = make_app(base_config(tmp_path, sqlite_url, **settings))
        people = People(app)
        with app.app_context():
            db.session.add(Job(id="failed-1", task_name="commit_salary_sheet", queue="imports",
                               tenant_id=people.tenant_a, state="FAILURE", attempts=3, max_attempts=3,
                               finished_at=utcnow() - dt.timedelta(minutes=2), error="disk full"))
            db.session.commit()
        start_consumer(app, workers=1, **settings)
        actor = actions.Actor(user_id=people.operator, tenant_id=None, label="test")
        for _ in range(2):  # Two passes, one message.
            with app.app_context():
                job_id = actions.run_periodic_now("check_alerts", actor).id

            def done(job_id=job_id):
                with app.app_context():
                    return db.session.get(Job, job_id).state == "SUCCESS"
            wait_for(done, timeout=60, message="check_alerts to run on the worker")
        wait_for(lambda: len(smtp.mailbox.to("admin@acme.test")) == 1, timeout=30, message="the email")
        time.sleep(2)  # Let the outage watch probe a few times too: still one message.
        assert len(smtp.mailbox.to("oncall@ops.test")) == 1
        assert len(smtp.mailbox.to("admin@acme.test")) == 1
        assert len(hook.texts("/platform")) == 1
        with app.app_context():
            statuses = db.session.execute(sa.select(AlertDelivery.status, sa.func.count())
                                          .group_by(AlertDelivery.status)).all()
            assert dict(statuses) == {"sent": 3}
