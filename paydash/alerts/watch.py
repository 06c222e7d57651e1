"""The consumer's watch on the database and the broker, every ALERT_PROBE_SECONDS.

The minute's alert pass is a task: it cannot run while the broker or the database is down,
so a thread in each consumer probes both. A broker down for ALERT_OUTAGE_SECONDS opens a
`broker_down` problem through the engine (the database still answers). A database down that
long cannot be written down: operators are told at once from memory (env settings), and the
outage is recorded, with its all-clear, once the database answers again. With several
consumers each one tells operators of a database outage once.
"""
import datetime as dt
import logging
import threading

import sqlalchemy as sa

from paydash.alerts import conditions
from paydash.alerts import delivery
from paydash.alerts import engine
from paydash.alerts import messages
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger.queue import broker_reachable
from paydash.models import AlertDelivery
from paydash.models import AlertState

logger = logging.getLogger(__name__)
_started = False
_lock = threading.Lock()


def probe_database() -> bool:
    try:
        db.session.execute(sa.text("select 1"))
        db.session.rollback()
        return True
    except Exception:  # Any failure means "unreachable" here.
        db.session.rollback()
        return False


class OutageWatch:
    """Tracks how long each dependency has been down and speaks once per outage."""

    def __init__(self, cfg, probe_db, probe_broker):
        self.cfg, self.probe_db, self.probe_broker = cfg, probe_db, probe_broker
        self.db_down_since: dt.datetime | None = None
        self.broker_down_since: dt.datetime | None = None
        self.db_told: list[tuple[str, str]] = []  # (channel, target) told of this outage
        self.db_summary = ""

    def tick(self, now: dt.datetime | None = None) -> None:
        now = now or utcnow()
        if not self.probe_db():
            self.db_down_since = self.db_down_since or now
            if (now - self.db_down_since).total_seconds() >= float(self.cfg["ALERT_OUTAGE_SECONDS"]):
                self._tell_database_down(now)
            return
        if self.db_down_since is not None:
            self._database_back(now)
        self._broker(now)

    def _limit(self) -> float:
        return float(self.cfg["ALERT_OUTAGE_SECONDS"])

    def _broker(self, now: dt.datetime) -> None:
        up = self.probe_broker()
        self.broker_down_since = None if up else (self.broker_down_since or now)
        findings = []
        if not up and (now - self.broker_down_since).total_seconds() >= self._limit():
            minutes = max(1, int((now - self.broker_down_since).total_seconds() // 60))
            findings.append(conditions.Finding(
                conditions.PLATFORM, "broker_down", "",
                f"The job queue (broker) has not answered for {minutes} min: new jobs wait in "
                "the ledger and are sent once it is back", "/jobs/workers"))
        try:
            engine.process(findings, ["broker_down"], self.cfg, now)
        except sa.exc.IntegrityError:
            # Another consumer's watch opened the same problem a moment ago: it speaks for both.
            db.session.rollback()
        delivery.deliver_due(self.cfg, now)

    def _operator_targets(self) -> list[tuple[str, str]]:
        targets = []
        if self.cfg.get("ALERT_OPERATOR_EMAILS"):
            targets.append(("email", self.cfg["ALERT_OPERATOR_EMAILS"]))
        if self.cfg.get("ALERT_OPERATOR_WEBHOOK_URL"):
            targets.append(("webhook", self.cfg["ALERT_OPERATOR_WEBHOOK_URL"]))
        return targets

    def _text(self, kind: str, now: dt.datetime) -> tuple[str, str]:
        title = conditions.CONDITIONS["database_down"].title
        if kind == "open":
            return (f"[Paydash] Problem: {title} - Paydash (all tenants)",
                    f"{self.db_summary}.\n\nWhat to do: {conditions.CONDITIONS['database_down'].what_to_do}")
        minutes = max(1, int((now - self.db_down_since).total_seconds() // 60))
        return (f"[Paydash] All clear: {title} - Paydash (all tenants)",
                f"The database answers again after {minutes} min.\n"
                f"{messages.url(self.cfg, '/jobs')}")

    def _tell_database_down(self, now: dt.datetime) -> None:
        """Tell each operator channel once, retrying every probe until it goes through."""
        minutes = max(1, int((now - self.db_down_since).total_seconds() // 60))
        self.db_summary = (f"The database has not answered for {minutes} min: pages and jobs "
                           "fail until it is back")
        subject, body = self._text("open", now)
        for target in self._operator_targets():
            if target in self.db_told:
                continue
            try:
                delivery.send(self.cfg, *target, subject, body, scope=conditions.PLATFORM, kind="open")
                self.db_told.append(target)
            except Exception as exc:  # Try again on the next probe.
                logger.warning("database outage alert to %s failed: %s", target[0], exc)

    def _database_back(self, now: dt.datetime) -> None:
        """Record the outage, and send its all-clear if the opening went out."""
        was_long = (now - self.db_down_since).total_seconds() >= self._limit()
        if was_long:
            subject, body = self._text("clear", now)
            state = db.session.scalar(sa.select(AlertState).where(
                AlertState.scope == conditions.PLATFORM, AlertState.condition == "database_down"))
            if state is None:
                state = AlertState(scope=conditions.PLATFORM, condition="database_down", subject="")
                db.session.add(state)
            state.status, state.summary, state.link = "cleared", self.db_summary, "/jobs"
            state.opened_at, state.last_seen_at, state.cleared_at = self.db_down_since, now, now
            state.occurrences, state.notified = 1, bool(self.db_told)
            db.session.flush()
            open_subject, open_body = self._text("open", now)
            for channel, target in self._operator_targets():
                told = (channel, target) in self.db_told
                db.session.add(AlertDelivery(
                    alert_id=state.id, scope=conditions.PLATFORM, kind="open", channel=channel,
                    target=target, subject=open_subject, body=open_body, attempts=1 if told else 0,
                    status="sent" if told else "failed", created_at=self.db_down_since,
                    sent_at=now if told else None, next_attempt_at=now,
                    last_error=None if told else "could not be sent while the database was down"))
                if told:  # The all-clear goes through the ledger like any other message.
                    db.session.add(AlertDelivery(
                        alert_id=state.id, scope=conditions.PLATFORM, kind="clear", channel=channel,
                        target=target, subject=subject, body=body, status="pending",
                        next_attempt_at=now, created_at=now))
            db.session.commit()
            delivery.deliver_due(self.cfg, now)
        self.db_down_since, self.db_told, self.db_summary = None, [], ""


def start_once(app, huey) -> bool:
    """Start this process's watch thread (once per process; off when ALERTS_ENABLED is false)."""
    global _started
    with _lock:
        if _started or not app.config.get("ALERTS_ENABLED"):
            return False
        _started = True
    watch = OutageWatch(app.config, probe_database, lambda: broker_reachable(huey)[0])

    def run():
        stop = threading.Event()
        while not stop.wait(float(app.config["ALERT_PROBE_SECONDS"])):
            try:
                with app.app_context():
                    watch.tick()
            except Exception:  # Never let the watch die: the next probe tries again.
                logger.exception("alert watch: probe failed")

    threading.Thread(target=run, name="paydash-alert-watch", daemon=True).start()
    return True
