"""Alerts, sent from the worker: the minute's pass, and each consumer's outage watch."""
from flask import current_app

from paydash.alerts import engine
from paydash.alerts import watch
from paydash.broker import huey
from paydash.broker import periodic_task
from paydash.config import Config
from paydash.ledger import bridge
from paydash.ledger.queue import PRIORITIES
from paydash.periodic import periodic_schedules

SCHEDULES = periodic_schedules(Config.CLEANUP_TIMEZONE)


@periodic_task(SCHEDULES["check_alerts"], priority=PRIORITIES["maintenance"])
def check_alerts() -> dict:
    """Open, refresh and clear problems, send the daily digest, and send what is due."""
    if not current_app.config["ALERTS_ENABLED"]:
        return {"enabled": False}
    return engine.check(current_app.config)


@huey.on_startup()
def start_alert_watch() -> None:
    """Probe the database and the broker from this consumer process (started once)."""
    watch.start_once(bridge.flask_app(), huey)
