"""Chart aggregation and chart queries (being written: see issue 2)."""
from paydash import jobs


def request_sync(tenant_id: int, year: int, month: int, source: str, requested_by_id: int | None):
    """Create the chart sync job for a period, commit, then enqueue; returns the Job."""
    job = jobs.create_job("sync_chart_data_batch", args=(tenant_id, year, month, source),
                          queue="chart_sync", tenant_id=tenant_id, year=year, month=month,
                          requested_by_id=requested_by_id)
    jobs.commit_and_dispatch(job)
    return job


def sync_chart_data(tenant_id: int, year: int, month: int, source: str) -> dict:
    raise NotImplementedError


def cleanup_old_chart_data() -> dict:
    raise NotImplementedError
