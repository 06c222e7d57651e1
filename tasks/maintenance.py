"""Periodic maintenance: the minute recovery pass and the weekly chart-data cleanup."""
from paydash.broker import periodic_task
from paydash.charts import aggregation
from paydash.config import Config
from paydash.ledger import recovery
from paydash.ledger.queue import PRIORITIES
from paydash.periodic import periodic_schedules
from paydash.services import retention

SCHEDULES = periodic_schedules(Config.CLEANUP_TIMEZONE)


@periodic_task(SCHEDULES["recover_lost_jobs"], priority=PRIORITIES["maintenance"])
def recover_lost_jobs() -> dict:
    """Re-enqueue jobs lost to a broker outage, a dead worker or broker data loss."""
    return recovery.recover_lost_jobs().as_dict()


@periodic_task(SCHEDULES["cleanup_old_chart_data"], priority=PRIORITIES["maintenance"],
               timeout=Config.CHART_SYNC_TIMEOUT)
def cleanup_old_chart_data() -> dict:
    """Delete chart data not refreshed for CHART_DATA_RETENTION_DAYS (periods re-sync on demand)."""
    return aggregation.cleanup_old_chart_data()


@periodic_task(SCHEDULES["prune_history"], priority=PRIORITIES["maintenance"])
def prune_history() -> dict:
    """Keep job history, audit entries and stored workbooks within their retention."""
    return retention.prune()
