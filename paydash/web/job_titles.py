"""What each of Paydash's jobs is called on HR's pages, and what it did, in sentences.

Admins read task names, queues and JSON; HR reads "Saving the April 2024 salary sheet" while
it runs and "April 2024 salary sheet saved" once done, and a sentence instead of the result.
"""
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.periods import month_label

# task name -> (while it runs or failed, once it succeeded); {month} is "April 2024" or "".
TASK_WORDS = {
    "import_salary_sheet": ("Checking the {month} salary sheet", "{month} salary sheet checked"),
    "commit_salary_sheet": ("Saving the {month} salary sheet", "{month} salary sheet saved"),
    "sync_chart_data_batch": ("Updating the dashboard{for_month}", "Dashboard updated{for_month}"),
}
# HR-facing names of the tasks, for the "What" filter of HR's job list.
TASK_NAMES = {
    "import_salary_sheet": "Checking a salary sheet",
    "commit_salary_sheet": "Saving a salary sheet",
    "sync_chart_data_batch": "Updating the dashboard",
}


def job_title(job: Job) -> str:
    """What a job does, in HR's words, with its month ("Saving the April 2024 salary sheet")."""
    month = month_label(job.year, job.month) if job.year and job.month else ""
    words = TASK_WORDS.get(job.task_name)
    if words is None:
        title = job.task_name.replace("_", " ").capitalize()
        return f"{title} for {month}" if month else title
    template = words[1] if job.state == JobState.SUCCESS.value else words[0]
    text = template.format(month=month, for_month=f" for {month}" if month else "")
    # Without a month the sentence must still read well: "Saving the salary sheet".
    text = " ".join(text.split())
    return text[:1].upper() + text[1:]


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def result_sentence(job: Job) -> str | None:
    """The job's result as a sentence HR can read; None when there is nothing to say."""
    result = job.result if isinstance(job.result, dict) else None
    if not result or job.state != JobState.SUCCESS.value:
        return None
    if result.get("refused"):
        return "Nothing was done: this job did not belong to your organisation's data."
    if job.task_name == "import_salary_sheet":
        people = _plural(result.get("employee_count") or 0, "employee")
        problems = _plural(result.get("error_count") or 0, "row problem")
        warnings = _plural(result.get("warning_count") or 0, "warning")
        return f"The sheet was read: {people}, {problems} to fix and {warnings}."
    if job.task_name == "commit_salary_sheet":
        count = result.get("employee_count") or 0
        return f"Salary rows for {_plural(count, 'employee')} were saved."
    if job.task_name == "sync_chart_data_batch":
        people = _plural(result.get("headcount") or 0, "person")
        people = people.replace("persons", "people")
        departments = _plural(result.get("departments") or 0, "department")
        return f"The dashboard now shows {people} in {departments}."
    return None
