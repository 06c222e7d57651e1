"""How a ledger job reads to people (its status in words) and to the JSON API."""
from paydash.ledger.models import FINISHED_STATES
from paydash.ledger.models import Job
from paydash.ledger.models import JobState


def plain_status(job: Job) -> str:
    """The job's state in the words an HR user reads."""
    if job.state == JobState.STARTED.value:
        if job.progress_total:
            verb = job.progress_message or "Working"
            return f"{verb} {job.progress_done:,} of {job.progress_total:,} rows"
        return job.progress_message or "Running"
    if job.state == JobState.PENDING.value:
        return "Waiting for a worker" if job.enqueued_at else "Queued — it will run when the worker is reachable"
    if job.state == JobState.RETRY.value:
        return f"Retrying after an error (attempt {job.attempts} of {job.max_attempts})"
    if job.state == JobState.FAILURE.value:
        return f"Failed: {job.error or 'unknown error'}"
    if job.state == JobState.REVOKED.value:
        return "Cancelled"
    return "Done"


def job_as_dict(job: Job) -> dict:
    def iso(value):
        return value.isoformat() + "Z" if value else None

    return {
        "id": job.id, "task": job.task_name, "queue": job.queue, "state": job.state,
        "status": plain_status(job), "tenant_id": job.tenant_id, "upload_id": job.upload_id,
        "year": job.year, "month": job.month, "attempts": job.attempts,
        "max_attempts": job.max_attempts, "worker": job.worker_id,
        "progress": {"done": job.progress_done, "total": job.progress_total,
                     "message": job.progress_message},
        "created_at": iso(job.created_at), "enqueued_at": iso(job.enqueued_at),
        "eta": iso(job.eta), "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at), "heartbeat_at": iso(job.heartbeat_at),
        "runtime_seconds": job.runtime_seconds, "result": job.result, "error": job.error,
        "finished": job.state in FINISHED_STATES,
    }
