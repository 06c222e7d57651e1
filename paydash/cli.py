"""`flask --app app ...` commands: thin wrappers around domain functions."""
import datetime as dt
import json

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from paydash import accounts
from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger import stats
from paydash.ledger.dbclock import utcnow
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.ledger.models import Worker
from paydash.ledger.queue import backend_name
from paydash.ledger.queue import broker_reachable
from paydash.ledger.queue import periodic_task_classes
from paydash.models import Tenant
from paydash.periodic import periodic_schedules


def init_app(app) -> None:
    for command in (create_tenant_command, create_user_command, seed_demo_command,
                    sync_chart_command, job_status_command, periodic_command, doctor_command,
                    create_db_command):
        app.cli.add_command(command)


@click.command("create-db")
@with_appcontext
def create_db_command():
    """Create tables directly (tests and throwaway databases; deployments use `db upgrade`)."""
    db.create_all()
    click.echo("Tables created.")


@click.command("create-tenant")
@with_appcontext
@click.argument("name")
@click.option("--slug", default=None)
def create_tenant_command(name, slug):
    """Create a tenant (a business)."""
    try:
        tenant = accounts.create_tenant(name, slug)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Tenant {tenant.id} '{tenant.name}' ({tenant.slug})")


@click.command("create-user")
@with_appcontext
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", default="hr",
              type=click.Choice(["hr", "tenant_admin", "operator", "readonly_operator"]))
@click.option("--tenant", "tenant_slug", default=None, help="Tenant slug (not for operators).")
@click.option("--name", default="")
def create_user_command(email, password, role, tenant_slug, name):
    """Create a user of a tenant, or a platform operator."""
    tenant = None
    if tenant_slug:
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == tenant_slug))
        if tenant is None:
            raise click.ClickException(f"No tenant '{tenant_slug}'.")
    try:
        user = accounts.create_user(email, password, name=name, role=role, tenant=tenant)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"User {user.id} {user.email} ({user.role})")


@click.command("seed-demo")
@with_appcontext
@click.option("--employees", default=120, show_default=True)
@click.option("--months", default=12, show_default=True)
def seed_demo_command(employees, months):
    """Create the demo tenant, its logins and months of realistic payroll (idempotent)."""
    from paydash.services import demo  # noqa: PLC0415  (demo data is only needed by this command)
    info = demo.seed_demo(employees=employees, months=months)
    click.echo(json.dumps(info, indent=2, default=str))


@click.command("sync-chart")
@with_appcontext
@click.argument("tenant_slug")
@click.argument("year", type=int)
@click.argument("month", type=int)
@click.option("--source", default="excel", type=click.Choice(["excel", "frontend"]))
def sync_chart_command(tenant_slug, year, month, source):
    """Enqueue a chart sync for a tenant and month and print its job id."""
    from paydash.charts import aggregation  # noqa: PLC0415
    tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == tenant_slug))
    if tenant is None:
        raise click.ClickException(f"No tenant '{tenant_slug}'.")
    job = aggregation.request_sync(tenant.id, year, month, source, requested_by_id=None)
    click.echo(job.id)


@click.command("job-status")
@with_appcontext
@click.argument("job_id")
def job_status_command(job_id):
    """Show a job's state from the ledger."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise click.ClickException(f"No job {job_id}.")
    click.echo(json.dumps(jobs.job_as_dict(job), indent=2))


@click.command("periodic")
@with_appcontext
def periodic_command():
    """List the periodic tasks with their schedules and next run times."""
    huey = current_app.extensions["huey"]
    now = utcnow()
    for task_class in periodic_task_classes(huey):
        schedule = _schedule_of(task_class)
        if schedule is None:  # Declared with a crontab of its own, not a paydash.ledger.schedule.
            click.echo(f"{task_class.__name__:28} {'custom':32} next: -")
            continue
        nxt = schedule.next_run(now)
        click.echo(f"{task_class.__name__:28} {schedule.in_words():32} next: {nxt:%Y-%m-%d %H:%M} UTC")


def _schedule_of(task_class):
    """The paydash.ledger.schedule.Schedule a periodic task was declared with."""
    return periodic_schedules(current_app.config["CLEANUP_TIMEZONE"]).get(task_class.__name__)


@click.command("doctor")
@with_appcontext
def doctor_command():
    """Is the database reachable, the broker reachable, a worker alive; how deep each queue."""
    huey = current_app.extensions["huey"]
    ok = True
    try:
        db.session.execute(sa.text("select 1"))
        click.echo(f"database  ok     {db.engine.url.render_as_string(hide_password=True)}")
    except Exception as exc:
        ok = False
        click.echo(f"database  FAIL   {exc}")
    reachable, detail = broker_reachable(huey)
    ok &= reachable
    click.echo(f"broker    {'ok  ' if reachable else 'FAIL'}   {backend_name(huey)}: {detail}")
    if reachable:
        click.echo(f"          queued {huey.storage.queue_size()}, "
                   f"scheduled {huey.storage.schedule_size()}")
    lease = current_app.config["LEASE_SECONDS"]
    try:
        alive = db.session.scalars(sa.select(Worker).where(
            Worker.stopped_at.is_(None),
            Worker.heartbeat_at >= utcnow() - dt.timedelta(seconds=lease))).all()
        ok &= bool(alive)
        click.echo(f"workers   {'ok  ' if alive else 'FAIL'}   {len(alive)} alive"
                   + "".join(f"\n          {w.id} ({w.worker_type} x{w.concurrency})" for w in alive))
        figures = stats.queue_figures(None, utcnow())  # The job dashboard's own figures.
        click.echo("queues    " + ", ".join(f"{q}: {n} pending" for q, n in figures["pending"].items())
                   + f"; scheduled {figures['scheduled']}, retrying {figures['retrying']}, "
                   f"running {figures['running']}, oldest pending {figures['oldest_pending_seconds']:.0f} s")
        silent = utcnow() - dt.timedelta(seconds=lease)
        stuck = db.session.scalar(sa.select(sa.func.count()).select_from(Job).where(
            Job.state == JobState.STARTED.value,
            Job.last_sign_of_life < silent)) or 0
        click.echo(f"jobs      {'ok  ' if not stuck else 'WARN'}   {stuck} running without a "
                   "heartbeat (recovery re-enqueues them)")
    except Exception as exc:
        click.echo(f"ledger    FAIL   {exc}")
        ok = False
    if not ok:
        raise SystemExit(1)
