"""The ledger's tables: jobs, their events, workers, hourly rollups, periodic claims, pauses.

The host app provides the `user` and `upload` tables that a job may point at (by table
name only: the ledger imports none of the host's models).
"""
import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from paydash.extensions import db
from paydash.ledger.dbclock import utcnow


class JobState(str, enum.Enum):
    PENDING = "PENDING"
    STARTED = "STARTED"
    RETRY = "RETRY"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    REVOKED = "REVOKED"


FINISHED_STATES = (JobState.SUCCESS.value, JobState.FAILURE.value, JobState.REVOKED.value)


class Job(db.Model):
    """The job ledger: one row per Huey task, kept by Paydash because Huey forgets."""

    __table_args__ = (
        sa.Index("ix_job_state_created", "state", "created_at"),
        sa.Index("ix_job_tenant_created", "tenant_id", "created_at"),
        sa.Index("ix_job_task_created", "task_name", "created_at"),
        sa.Index("ix_job_finished", "finished_at"),
        # The job dashboard (issue 3): newest-first pages and per-task run time percentiles.
        sa.Index("ix_job_created_id", "created_at", "id"),
        sa.Index("ix_job_task_state_finished", "task_name", "state", "finished_at",
                 postgresql_include=["runtime_seconds", "tenant_id"]),
    )
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    task_name: Mapped[str] = mapped_column(sa.String(80))
    queue: Mapped[str] = mapped_column(sa.String(32))
    # No foreign key: the ledger records what was asked, even for a tenant that does not
    # (or no longer does) exist; that job then fails with a message instead of vanishing.
    tenant_id: Mapped[int | None]
    upload_id: Mapped[int | None] = mapped_column(sa.ForeignKey("upload.id"), index=True)
    year: Mapped[int | None]
    month: Mapped[int | None]
    args: Mapped[dict | None] = mapped_column(sa.JSON)
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    state: Mapped[str] = mapped_column(sa.String(12), default=JobState.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=1)
    priority: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[dt.datetime | None]
    eta: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    worker_id: Mapped[str | None] = mapped_column(sa.String(120))
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int | None]
    progress_message: Mapped[str | None] = mapped_column(sa.String(300))
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    error: Mapped[str | None] = mapped_column(sa.Text)
    traceback: Mapped[str | None] = mapped_column(sa.Text)
    runtime_seconds: Mapped[float | None]

    # The host's user, by class name only (no annotation: the ledger imports no host model).
    requested_by = relationship("User")

    @hybrid_property
    def last_sign_of_life(self) -> dt.datetime | None:
        """When the running attempt last showed it was alive: its heartbeat, else its start.
        A job silent for longer than the lease has lost its worker (recovery, the doctor and
        the dashboard all read it so)."""
        return self.heartbeat_at or self.started_at

    @last_sign_of_life.inplace.expression
    @classmethod
    def _last_sign_of_life_expression(cls):
        return sa.func.coalesce(cls.heartbeat_at, cls.started_at)

    events: Mapped[list["JobEvent"]] = relationship(
        back_populates="job", order_by="JobEvent.id", cascade="all, delete-orphan",
        primaryjoin="Job.id == foreign(JobEvent.job_id)"
    )


class JobEvent(db.Model):
    """Every transition of a job: its timeline."""

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key: events are written only by the ledger, right after the job row's own
    # update, and retention deletes a job's events with it. The key's check (a row lock on
    # the job for each event) was a third of the database's work per job at high rates.
    job_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(sa.String(12))
    worker_id: Mapped[str | None] = mapped_column(sa.String(120))
    message: Mapped[str] = mapped_column(sa.Text, default="")

    job: Mapped[Job] = relationship(back_populates="events",
                                    primaryjoin="Job.id == foreign(JobEvent.job_id)")


class Worker(db.Model):
    """One row per consumer process, kept alive by its heartbeat thread."""

    id: Mapped[str] = mapped_column(sa.String(120), primary_key=True)  # "host:pid:key"
    host: Mapped[str] = mapped_column(sa.String(200))  # For people: clones share hostnames.
    pid: Mapped[int]
    # Issue 13: the identity is unique per process start; `machine` names the machine,
    # boot and PID namespace where `pid` means something (None: judged by lease alone).
    process_key: Mapped[str | None] = mapped_column(sa.String(32), unique=True, index=True)
    machine: Mapped[str | None] = mapped_column(sa.String(32))
    worker_type: Mapped[str] = mapped_column(sa.String(16))
    concurrency: Mapped[int] = mapped_column(default=1)
    queue_backend: Mapped[str] = mapped_column(sa.String(16), default="sqlite")
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    stopped_at: Mapped[dt.datetime | None]


class JobHourStat(db.Model):
    """Finished jobs per closed hour, tenant, task and state: the dashboard's 7-day rollup.

    Filled lazily by `paydash.ledger.rollups` for hours closed a little while ago; a row with an
    empty task name marks an hour as rolled up (hours with no jobs still get one).
    `tenant_key` is 0 for jobs without a tenant (NULLs never collide in a unique key) and
    -1 for the all-tenant total, so an operator's week is read from 336 rows at most.
    """

    __table_args__ = (
        sa.UniqueConstraint("hour", "tenant_key", "task_name", "state", name="uq_job_hour_stat"),
        sa.Index("ix_job_hour_stat_tenant_hour", "tenant_key", "hour"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[dt.datetime]
    tenant_key: Mapped[int] = mapped_column(default=0)
    task_name: Mapped[str] = mapped_column(sa.String(80), default="")
    state: Mapped[str] = mapped_column(sa.String(12), default="")
    count: Mapped[int] = mapped_column(default=0)
    runtime_sum: Mapped[float] = mapped_column(default=0.0)


class PeriodicRun(db.Model):
    """Claims one run of a periodic task per slot, so two consumers run it once."""

    __table_args__ = (sa.UniqueConstraint("task_name", "slot", name="uq_periodic_run"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task_name: Mapped[str] = mapped_column(sa.String(80))
    slot: Mapped[str] = mapped_column(sa.String(32))
    claimed_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    job_id: Mapped[str | None] = mapped_column(sa.String(36))


class PausedTask(db.Model):
    task_name: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    paused_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    paused_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
