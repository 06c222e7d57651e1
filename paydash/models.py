"""Typed SQLAlchemy models. Natural keys carry unique constraints so upserts are correct."""
import datetime as dt
import enum
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import attribute_keyed_dict
from sqlalchemy.orm import deferred
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from paydash.clock import utcnow
from paydash.extensions import db

# The ledger's tables share this metadata (migrations and create_all see them through here).
from paydash.ledger import models as ledger_models  # noqa: F401

Money = sa.Numeric(14, 2)


class Role(str, enum.Enum):
    HR = "hr"
    TENANT_ADMIN = "tenant_admin"
    OPERATOR = "operator"
    READONLY_OPERATOR = "readonly_operator"


OPERATOR_ROLES = (Role.OPERATOR.value, Role.READONLY_OPERATOR.value)
JOB_ACTOR_ROLES = (Role.OPERATOR.value, Role.TENANT_ADMIN.value)


class RoleChecks:
    """What a user's role allows, for the ORM `User` and the signed-in record alike."""

    __slots__ = ()

    @property
    def is_operator(self) -> bool:
        return self.role in OPERATOR_ROLES

    @property
    def can_act_on_jobs(self) -> bool:
        return self.role in JOB_ACTOR_ROLES


class UploadStatus(str, enum.Enum):
    RECEIVED = "received"      # stored, waiting for the worker
    VALIDATING = "validating"  # the import job is reading it
    PREVIEW = "preview"        # valid enough to confirm; nothing stored yet
    REJECTED = "rejected"      # errors block it; an error report is offered
    CONFIRMED = "confirmed"    # its rows are the period's salary rows
    SUPERSEDED = "superseded"  # a later confirmed upload replaced it
    DISCARDED = "discarded"    # HR chose not to confirm it
    FAILED = "failed"          # the job itself failed (not the sheet)


class Tenant(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Payroll rules (issue 6): days basis is "calendar", "30", "26" or "30.4".
    days_basis: Mapped[str] = mapped_column(sa.String(16), default="calendar")
    shift_hours: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal("9"))
    break_hours: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal("1"))
    variance_pct: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal("20"))
    pf_enabled: Mapped[bool] = mapped_column(default=False)
    esi_enabled: Mapped[bool] = mapped_column(default=False)
    pt_state: Mapped[str | None] = mapped_column(sa.String(40))
    # Issue 16: the tenant admin can require two-step sign-in of every user of the tenant.
    require_two_step: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Issue 17: the IANA zone every page of this tenant shows its times in (storage stays UTC).
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Asia/Kolkata",
                                          server_default="Asia/Kolkata")


class User(RoleChecks, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tenant.id"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(400))
    role: Mapped[str] = mapped_column(sa.String(32), default=Role.HR.value)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Issue 16: two-step sign-in (base32 TOTP secret; hashed one-time recovery codes) and
    # the admin-started password reset (only a hash of the link's token is kept).
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    # The 30 s time step of the last code accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    recovery_codes: Mapped[list | None] = mapped_column(sa.JSON)
    reset_token_hash: Mapped[str | None] = mapped_column(sa.String(64))
    reset_token_expires: Mapped[dt.datetime | None]

    tenant: Mapped[Tenant | None] = relationship()


BLOB_WORKBOOK, BLOB_STAGED = "workbook", "staged"   # UploadBlob.kind


def _blob_accessors(kind: str):
    """(get, set) of an upload's part of this kind: its bytes or None; None removes it."""
    def get(upload: "Upload") -> bytes | None:
        blob = upload.blobs.get(kind)
        return None if blob is None else blob.data

    def set_(upload: "Upload", data: bytes | None) -> None:
        if data is None:
            upload.blobs.pop(kind, None)
        elif kind in upload.blobs:
            upload.blobs[kind].data = data
        else:
            upload.blobs[kind] = UploadBlob(kind=kind, data=data)
    return get, set_


class Upload(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenant.id"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    filename: Mapped[str] = mapped_column(sa.String(255))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(default=0)
    year: Mapped[int]
    month: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(16), default=UploadStatus.RECEIVED.value)
    # The validation result: mapping, totals, warnings, errors, duplicates.
    preview: Mapped[dict | None] = deferred(mapped_column(sa.JSON))
    employee_count: Mapped[int | None]
    gross_total: Mapped[Decimal | None] = mapped_column(Money)
    net_total: Mapped[Decimal | None] = mapped_column(Money)
    error_count: Mapped[int] = mapped_column(default=0)
    warning_count: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(sa.Text)
    job_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    confirmed_at: Mapped[dt.datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    uploaded_by: Mapped[User | None] = relationship(foreign_keys=[uploaded_by_id])
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])
    # Its workbook and staged rows, by kind (`UploadBlob`); read and set through the two
    # properties below, which load only the one asked for.
    blobs: Mapped[dict[str, "UploadBlob"]] = relationship(
        collection_class=attribute_keyed_dict("kind"), cascade="all, delete-orphan",
        back_populates="upload")

    # Workbooks live in the database: web and worker dynos share no filesystem.
    content = property(*_blob_accessors(BLOB_WORKBOOK))
    # The validated rows, kept until HR confirms so the commit need not parse the workbook
    # again (paydash/sheets/staging.py); cleared once the upload is confirmed, rejected or discarded.
    staged_rows = property(*_blob_accessors(BLOB_STAGED))


class UploadBlob(db.Model):
    """One large part of an upload: its workbook or its staged rows, each in a row of its own.

    Not columns of the upload: SQLite rewrites a whole row on every UPDATE, so each change
    of an upload's status or preview held its 64 MB workbook in the worker's memory for a
    moment (232 -> 360 MB at 500,000 rows). `data` is deferred: knowing which parts an
    upload has loads none of them.
    """

    upload_id: Mapped[int] = mapped_column(sa.ForeignKey("upload.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    data: Mapped[bytes] = deferred(mapped_column(sa.LargeBinary, nullable=False))

    upload: Mapped[Upload] = relationship(back_populates="blobs")

    @classmethod
    def removal(cls, kind: str, uploads) -> sa.Delete:
        """DELETE of the parts of this kind of `uploads` (an upload id, or a SELECT of ids)."""
        chosen = cls.upload_id.in_(uploads) if isinstance(uploads, sa.Select) else \
            cls.upload_id == uploads
        return sa.delete(cls).where(chosen, cls.kind == kind)


class SalaryRow(db.Model):
    """One employee's pay for one period. A period's rows are replaced as a whole."""

    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "year", "month", "employee_key", name="uq_salary_row"),
        sa.Index("ix_salary_period", "tenant_id", "year", "month"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenant.id"))
    year: Mapped[int]
    month: Mapped[int]
    # Code, or code plus "#2" when HR keeps two people who share an id.
    employee_key: Mapped[str] = mapped_column(sa.String(80))
    employee_code: Mapped[str | None] = mapped_column(sa.String(64))
    employee_name: Mapped[str] = mapped_column(sa.String(200), default="")
    department: Mapped[str] = mapped_column(sa.String(120), default="Unassigned")
    designation: Mapped[str | None] = mapped_column(sa.String(120))
    fixed_salary: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    paid_days: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 2))
    absent_days: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 2))
    ot_hours: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2), default=Decimal(0))
    ot_pay: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    late_minutes: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2), default=Decimal(0))
    late_deduction: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    incentive: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # Issue 15: NULL when the sheet had no gross pay nor anything to work it out from.
    gross: Mapped[Decimal | None] = mapped_column(Money, default=Decimal(0))
    tds: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    advance: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    other_deductions: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    total_deductions: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    net: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # Columns a sheet had beyond the common ones (PF, ESI, HRA, ...), kept as text.
    extra: Mapped[dict | None] = mapped_column(sa.JSON)
    source: Mapped[str] = mapped_column(sa.String(16), default="excel")
    upload_id: Mapped[int | None] = mapped_column(sa.ForeignKey("upload.id"))
    sheet_row: Mapped[int | None]


class ChartAggregatedData(db.Model):
    """Pre-aggregated chart figures per tenant, period, chart kind, department and bucket.

    `kind` is e.g. "dept" (one row per department with its totals), "band" (salary band
    counts, bucket = band label) or "top" (top earners, bucket = rank, label = name).
    Rows are upserted on the natural key, so a sync that runs twice changes nothing.
    """

    __table_args__ = (
        sa.UniqueConstraint(
            "tenant_id", "year", "month", "kind", "department", "bucket", name="uq_chart_data"
        ),
        sa.Index("ix_chart_period", "tenant_id", "year", "month"),
        # The dashboard reads one kind over a range of months (paydash/charts/queries.py).
        sa.Index("ix_chart_kind_period", "tenant_id", "kind", "year", "month"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenant.id"))
    year: Mapped[int]
    month: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(16))
    department: Mapped[str] = mapped_column(sa.String(120), default="")
    bucket: Mapped[str] = mapped_column(sa.String(64), default="")
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    headcount: Mapped[int] = mapped_column(default=0)
    # Issue 15: NULL when the sheet had no gross pay nor anything to work it out from.
    gross: Mapped[Decimal | None] = mapped_column(Money, default=Decimal(0))
    net: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    fixed_salary: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    ot_hours: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2), default=Decimal(0))
    ot_pay: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    late_deduction: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    total_deductions: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    source: Mapped[str] = mapped_column(sa.String(16), default="excel")
    refreshed_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class ChartVersion(db.Model):
    """A per-tenant counter that every write of the tenant's chart data bumps.

    The dashboard caches its JSON under this number (paydash/charts/queries.py), so a sync
    or a cleanup makes every cached answer for the tenant unreachable at once.
    """

    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenant.id"), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)


class AuditLog(db.Model):
    __table_args__ = (sa.Index("ix_audit_tenant_at", "tenant_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    tenant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tenant.id"))
    action: Mapped[str] = mapped_column(sa.String(64))
    target: Mapped[str] = mapped_column(sa.String(200), default="")
    detail: Mapped[dict | None] = mapped_column(sa.JSON)
    ip: Mapped[str | None] = mapped_column(sa.String(64))

    user: Mapped[User | None] = relationship()


class Employee(db.Model):
    """The tenant's employee master (issue 6), filled from confirmed uploads and by HR."""

    __table_args__ = (sa.UniqueConstraint("tenant_id", "code", name="uq_employee_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenant.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    department: Mapped[str] = mapped_column(sa.String(120), default="Unassigned")
    designation: Mapped[str | None] = mapped_column(sa.String(120))
    monthly_salary: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    ot_multiplier: Mapped[Decimal] = mapped_column(sa.Numeric(4, 2), default=Decimal(1))
    tds_pct: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal(0))
    advance_balance: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    active: Mapped[bool] = mapped_column(default=True)
    joined_on: Mapped[dt.date | None]
    left_on: Mapped[dt.date | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PayrollMonth(db.Model):
    """A month worked out in the browser (issue 6): its draft, and whether it is paid."""

    __table_args__ = (sa.UniqueConstraint("tenant_id", "year", "month", name="uq_payroll_month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenant.id"))
    year: Mapped[int]
    month: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(12), default="draft")  # draft|saved|paid
    draft: Mapped[dict | None] = mapped_column(sa.JSON)
    saved_at: Mapped[dt.datetime | None]
    saved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    paid_at: Mapped[dt.datetime | None]
    paid_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    # What marking the month paid took off each advance balance ({employee id: "amount"}),
    # so unlocking gives back exactly that.
    advances_recovered: Mapped[dict | None] = mapped_column(sa.JSON)


# --- Issue 19: alerts (paydash/alerts/) ------------------------------------------------------


class AlertSetting(db.Model):
    """Who hears about trouble in one scope ("platform" or "tenant:<id>"), and what is muted.

    No row means the defaults: the scope's admins by email, every condition, nothing muted.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(40), unique=True)
    tenant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tenant.id"))
    emails: Mapped[str | None] = mapped_column(sa.Text)  # None: the default recipients
    webhook_url: Mapped[str | None] = mapped_column(sa.String(500))
    disabled: Mapped[list | None] = mapped_column(sa.JSON)  # conditions not wanted
    muted: Mapped[dict | None] = mapped_column(sa.JSON)  # {condition: ISO time muted until}
    digest_sent_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlertState(db.Model):
    """One problem per (scope, condition, subject): open while it lasts, then cleared."""

    __table_args__ = (sa.UniqueConstraint("scope", "condition", "subject", name="uq_alert_state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(40))
    tenant_id: Mapped[int | None]
    condition: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(120), default="")
    status: Mapped[str] = mapped_column(sa.String(12), default="open", index=True)  # open|cleared
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    link: Mapped[str] = mapped_column(sa.String(500), default="")
    occurrences: Mapped[int] = mapped_column(default=0)
    # Whether the opening message went out (False: muted or not wanted, so no all-clear either).
    notified: Mapped[bool] = mapped_column(default=False)
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[dt.datetime | None]


class AlertDelivery(db.Model):
    """One message to one channel: pending (retried with backoff), sent, failed or suppressed."""

    __table_args__ = (sa.Index("ix_alert_delivery_status_next", "status", "next_attempt_at"),
                      sa.Index("ix_alert_delivery_scope_created", "scope", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(index=True)
    scope: Mapped[str] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(12))  # open|clear|digest
    channel: Mapped[str] = mapped_column(sa.String(12))  # email|webhook
    target: Mapped[str] = mapped_column(sa.Text, default="")
    subject: Mapped[str] = mapped_column(sa.String(300), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]

# --- Issue 16: server-side sessions ---------------------------------------------------------


class UserSession(db.Model):
    """One signed-in browser. The signed cookie carries a token; this row holds its sha256.

    A request is signed in only while its row exists, so deleting the row (sign-out,
    deactivation, password change, "sign out other sessions") ends the session at once.
    """

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(200))
    # False until the second step (one-time code) is passed, for users who have one.
    two_step_done: Mapped[bool] = mapped_column(default=True)
# --- issue 15: the column mapping HR chose for a sheet layout, remembered per tenant ---------


class SheetLayout(db.Model):
    """How a tenant's sheets of one layout (same header words in the same columns) map to fields."""

    __table_args__ = (sa.UniqueConstraint("tenant_id", "signature",
                                          name="uq_sheet_layout_tenant_signature"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenant.id"), index=True)
    signature: Mapped[str] = mapped_column(sa.String(64))
    headers: Mapped[list | None] = mapped_column(sa.JSON)        # the header texts, for people
    mapping: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # {column letter: field or ""}
    all_sheets: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
