"""What each of Paydash's jobs is called on HR's pages."""
from paydash.ledger.models import Job
from paydash.periods import month_label

TASK_WORDS = {
    "import_salary_sheet": "Check a salary sheet",
    "commit_salary_sheet": "Save a salary sheet",
    "sync_chart_data_batch": "Update the dashboard",
}


def job_title(job: Job) -> str:
    """What a job does, in HR's words, with its month ("Save a salary sheet for March 2026")."""
    title = TASK_WORDS.get(job.task_name, job.task_name.replace("_", " ").capitalize())
    if job.year and job.month:
        title += f" for {month_label(job.year, job.month)}"
    return title
