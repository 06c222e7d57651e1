"""When each of Paydash's periodic tasks runs: one table the tasks, the CLI and the pages share."""
from paydash.ledger.schedule import Schedule


def periodic_schedules(cleanup_tz: str) -> dict[str, Schedule]:
    """Every periodic task's schedule, by task name: one table the tasks and pages share."""
    return {
        "recover_lost_jobs": Schedule(),
        "cleanup_old_chart_data": Schedule(minute=0, hour=2, day_of_week=0, tz=cleanup_tz),
        "prune_history": Schedule(minute=0, hour=3, tz=cleanup_tz),
        # Issue 19: the alert pass (paydash/alerts/), every minute.
        "check_alerts": Schedule(),
    }
