"""Chart data sync: 3 retries, 60 s apart, 30 minute limit (all from configuration)."""
from paydash.broker import task
from paydash.charts import aggregation
from paydash.config import Config
from paydash.ledger.queue import PRIORITIES


@task(retries=Config.CHART_SYNC_RETRIES, retry_delay=Config.CHART_SYNC_RETRY_DELAY,
      timeout=Config.CHART_SYNC_TIMEOUT, priority=PRIORITIES["chart_sync"])
def sync_chart_data_batch(tenant_id: int, year: int, month: int, source: str) -> dict:
    """Aggregate one tenant-period's salary rows into ChartAggregatedData (idempotent)."""
    return aggregation.sync_chart_data(tenant_id, year, month, source)
