"""Each problem's state, per (scope, condition, subject): the rate limit lives here.

new finding      → the problem opens: one message (or a suppressed one, when muted)
still found      → nothing sent; the count and words are kept for the digest
not seen for ALERT_CLEAR_AFTER_SECONDS → cleared: one all-clear (only if the opening went out)
"""
import datetime as dt
import logging

import sqlalchemy as sa

from paydash.alerts import conditions
from paydash.alerts import delivery
from paydash.alerts import digest
from paydash.alerts import messages
from paydash.alerts import recipients
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.models import AlertDelivery
from paydash.models import AlertState

logger = logging.getLogger(__name__)


def process(findings: list, evaluated, cfg, now: dt.datetime) -> dict:
    """Open, refresh or clear problems of the `evaluated` conditions from `findings`."""
    evaluated = set(evaluated)
    counts = {"opened": 0, "cleared": 0}
    seen = set()
    for finding in findings:
        seen.add(finding.key)
        state = db.session.scalar(sa.select(AlertState).where(
            AlertState.scope == finding.scope, AlertState.condition == finding.condition,
            AlertState.subject == finding.subject))
        if state is not None and state.status == "open":
            state.summary, state.link = finding.summary, finding.link
            state.occurrences, state.last_seen_at = finding.count, now
            continue
        _open(state, finding, cfg, now)
        counts["opened"] += 1
    open_states = db.session.scalars(sa.select(AlertState).where(
        AlertState.status == "open", AlertState.condition.in_(evaluated)))
    clear_after = dt.timedelta(seconds=float(cfg["ALERT_CLEAR_AFTER_SECONDS"]))
    for state in list(open_states):
        if (state.scope, state.condition, state.subject) not in seen and now - state.last_seen_at >= clear_after:
            _clear(state, cfg, now)
            counts["cleared"] += 1
    db.session.commit()
    return counts


def _open(state: AlertState | None, finding, cfg, now: dt.datetime) -> None:
    if state is None:
        state = AlertState(scope=finding.scope, condition=finding.condition, subject=finding.subject,
                           tenant_id=finding.tenant_id)
        db.session.add(state)
    state.status, state.opened_at, state.last_seen_at, state.cleared_at = "open", now, now, None
    state.summary, state.link, state.occurrences = finding.summary, finding.link, finding.count
    channels = recipients.channels_of(finding.scope, cfg)
    state.notified = bool(channels) and recipients.wanted(finding.scope, finding.condition, now)
    db.session.flush()
    subject, body = messages.opened(state, cfg)
    delivery.record(state.scope, "open", channels, subject, body, quiet=not state.notified,
                    alert_id=state.id, now=now)
    logger.info("alert opened: %s %s %s (%s)", state.scope, state.condition, state.subject,
                "sending" if state.notified else "suppressed")


def _clear(state: AlertState, cfg, now: dt.datetime) -> None:
    state.status, state.cleared_at = "cleared", now
    subject, body = messages.cleared(state, cfg)
    delivery.record(state.scope, "clear", recipients.channels_of(state.scope, cfg), subject, body,
                    quiet=not state.notified, alert_id=state.id, now=now)
    logger.info("alert cleared: %s %s %s", state.scope, state.condition, state.subject)


def check(cfg, now: dt.datetime | None = None) -> dict:
    """The minute's pass (run by the worker): evaluate, update states, digest, send what is due."""
    now = now or utcnow()
    findings = conditions.evaluate(now, cfg)
    result = process(findings, conditions.LEDGER_CONDITIONS, cfg, now)
    result["digests"] = digest.send_digests(cfg, now)
    result.update(delivery.deliver_due(cfg, now))
    result["pruned"] = prune(cfg, now)
    result["open"] = db.session.scalar(sa.select(sa.func.count()).select_from(AlertState)
                                       .where(AlertState.status == "open"))
    return result


def prune(cfg, now: dt.datetime) -> int:
    """Forget messages and cleared problems older than the failed jobs' retention."""
    before = now - dt.timedelta(days=int(cfg["JOB_RETENTION_FAILURE_DAYS"]))
    count = db.session.execute(sa.delete(AlertDelivery).where(
        AlertDelivery.created_at < before, AlertDelivery.status != "pending")).rowcount
    count += db.session.execute(sa.delete(AlertState).where(
        AlertState.status == "cleared", AlertState.cleared_at < before)).rowcount
    db.session.commit()
    return count


def open_problems(tenant_id: int | None, cfg, now: dt.datetime | None = None) -> list:
    """The problems a dashboard user should see now, worst first (read live, not from states)."""
    now = now or utcnow()
    scope = conditions.PLATFORM if tenant_id is None else conditions.tenant_scope(tenant_id)
    names = recipients.conditions_for(scope)
    order = list(conditions.CONDITIONS)
    found = [f for f in conditions.evaluate(now, cfg, [n for n in conditions.LEDGER_CONDITIONS if n in names])
             if f.scope == scope]
    # Outages come from the worker's probe: show those still open in the ledger.
    found += [conditions.Finding(s.scope, s.condition, s.subject, s.summary, s.link, s.occurrences)
              for s in db.session.scalars(sa.select(AlertState).where(
                  AlertState.status == "open", AlertState.scope == scope,
                  AlertState.condition.in_(("broker_down", "database_down"))))]
    found.sort(key=lambda f: order.index(f.condition))
    return [{"condition": f.condition, "text": f.summary, "short": f.short or f.summary, "link": f.link,
             "what_to_do": conditions.CONDITIONS[f.condition].what_to_do} for f in found]
