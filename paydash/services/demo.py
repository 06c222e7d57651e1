"""Demo data: a tenant, its logins and months of realistic payroll, seeded so it repeats.

`seed_demo` is idempotent: it creates only what is missing, and never adds payroll to a
demo tenant that already has some. `generate_payroll` is reused by the benchmarks.
"""
import calendar
import datetime as dt
import logging
import os
import pathlib
import random
import secrets
from dataclasses import dataclass
from decimal import ROUND_HALF_UP
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from paydash import accounts
from paydash.charts import aggregation
from paydash.extensions import db
from paydash.models import ChartAggregatedData
from paydash.models import Role
from paydash.models import SalaryRow
from paydash.models import Tenant
from paydash.models import User
from paydash.services import demo_history

logger = logging.getLogger(__name__)

TENANT_NAME = "Demo Traders Pvt Ltd"
TENANT_SLUG = "demo"
# Demo logins. Their passwords are made at random when each login is created and printed
# that once (issue 16): no password of a Paydash install is ever published.
LOGINS = (
    ("hr@demo.paydash", Role.HR.value, "Hema Rao (HR)", True),
    ("admin@demo.paydash", Role.TENANT_ADMIN.value, "Arjun Mehta (Admin)", True),
    ("ops@paydash.local", Role.OPERATOR.value, "Olivia Dsouza (Operator)", False),
    ("viewer@paydash.local", Role.READONLY_OPERATOR.value, "Vikram Iyer (Viewer)", False),
)
PASSWORD_SHOWN_BEFORE = ("(printed when this login was created; "
                         "`flask --app app seed-demo --new-passwords` makes new ones)")


class DemoRefused(RuntimeError):
    """Demo data was asked for where it must not go (a production install)."""
SEED = 2026
INSERT_CHUNK = 2000
PAISA = Decimal("0.01")

# name, share of staff, fixed monthly salary range (₹), paid overtime, sales incentive, titles
DEPARTMENTS = (
    ("Sales", 0.17, (18_000, 65_000), False, True, ("Sales Executive", "Area Sales Manager")),
    ("Operations", 0.15, (14_000, 34_000), True, False, ("Operator", "Shift Supervisor")),
    ("Production", 0.19, (12_000, 27_000), True, False, ("Machine Operator", "Helper", "Line Lead")),
    ("Warehouse & Logistics", 0.12, (13_000, 29_000), True, False, ("Picker", "Driver", "Storekeeper")),
    ("Accounts & Finance", 0.08, (22_000, 80_000), False, False, ("Accountant", "Finance Manager")),
    ("HR & Admin", 0.07, (16_000, 48_000), False, False, ("HR Executive", "Office Admin")),
    ("IT", 0.07, (35_000, 150_000), False, False, ("Developer", "IT Support", "Tech Lead")),
    ("Customer Support", 0.12, (15_000, 33_000), True, False, ("Support Associate", "Team Lead")),
    ("Management", 0.03, (95_000, 300_000), False, False, ("General Manager", "Director")),
)
FIRST_NAMES = ("Aarav", "Aditi", "Amit", "Ananya", "Anil", "Arjun", "Asha", "Deepak", "Divya", "Farhan",
               "Gaurav", "Geeta", "Harish", "Isha", "Jaya", "Karan", "Kavita", "Lakshmi", "Manoj",
               "Meena", "Mohan", "Neha", "Nikhil", "Pooja", "Priya", "Rahul", "Rajesh", "Ravi", "Rekha",
               "Rohit", "Sanjay", "Sara", "Shreya", "Suresh", "Sunita", "Tanvi", "Varun", "Vijay",
               "Yash", "Zoya", "Imran", "Joseph", "Fatima", "Gurpreet", "Simran", "Naveen")
LAST_NAMES = ("Sharma", "Verma", "Patel", "Reddy", "Nair", "Iyer", "Khan", "Singh", "Gupta", "Das",
              "Mehta", "Joshi", "Kulkarni", "Menon", "Pillai", "Chopra", "Bose", "Rao", "Shaikh",
              "Fernandes", "Gill", "Yadav", "Mishra", "Naidu", "Banerjee", "Kapoor", "Thomas")


@dataclass
class Person:
    code: str
    name: str
    department: int
    title: str
    fixed: Decimal
    joined: int  # month index (year * 12 + month - 1) of the first paid month
    join_day: int = 1
    left: int | None = None
    leave_day: int = 0
    late_prone: float = 0.3
    advance_left: Decimal = Decimal(0)
    instalment: Decimal = Decimal(0)


def money(value) -> Decimal:
    return Decimal(value).quantize(PAISA, rounding=ROUND_HALF_UP)


def _hire(rng: random.Random, number: int, joined: int, join_day: int = 1) -> Person:
    index = rng.choices(range(len(DEPARTMENTS)), weights=[d[1] for d in DEPARTMENTS])[0]
    _, _, (low, high), *_, titles = DEPARTMENTS[index]
    # Salaries spread log-uniformly: many near the bottom of a range, a few near the top.
    fixed = Decimal(round(low * (high / low) ** rng.random() / 500) * 500)
    return Person(code=f"DT{number:04d}", name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                  department=index, title=rng.choice(titles), fixed=fixed, joined=joined,
                  join_day=join_day, late_prone=rng.choice((0.05, 0.2, 0.4, 0.7)))


def _monthly_tds(fixed: Decimal) -> Decimal:
    """A rough new-regime TDS: nothing up to ₹7L a year, 10% to ₹12L, 20% above."""
    annual = fixed * 12
    tax = max(Decimal(0), min(annual, Decimal(1_200_000)) - Decimal(700_000)) * Decimal("0.10")
    tax += max(Decimal(0), annual - Decimal(1_200_000)) * Decimal("0.20")
    return money(tax / 12)


def _advance(rng: random.Random, p: Person) -> Decimal:
    """Advances: now and then an employee takes one and repays it in instalments."""
    if p.advance_left <= 0 and rng.random() < 0.03:
        p.advance_left = Decimal(rng.randrange(5_000, 25_001, 1_000))
        p.instalment = Decimal(rng.choice((2_000, 2_500, 5_000)))
        return Decimal(0)
    paid = min(p.advance_left, p.instalment)
    p.advance_left -= paid
    return paid


def _pay_row(rng: random.Random, p: Person, index: int) -> dict:
    year, month = divmod(index, 12)
    month += 1
    days = calendar.monthrange(year, month)[1]
    _, _, _, paid_ot, incentives, _ = DEPARTMENTS[p.department]
    absent = Decimal(rng.choices((0, 1, 2, 3, 5), weights=(70, 18, 7, 3, 2))[0])
    unpaid = absent + (p.join_day - 1 if index == p.joined else 0)
    unpaid += (days - p.leave_day) if index == p.left else 0
    paid_days = max(Decimal(0), Decimal(days) - unpaid)
    hour_rate = p.fixed / days / 8
    ot_hours = Decimal(rng.randrange(4, 81)) / 2 if paid_ot and rng.random() < 0.6 else Decimal(0)
    late_minutes = Decimal(rng.randrange(5, 151, 5)) if rng.random() < p.late_prone else Decimal(0)
    incentive = Decimal(round(p.fixed * Decimal(rng.uniform(0.02, 0.15)) / 100) * 100) \
        if incentives and rng.random() < 0.5 else Decimal(0)
    earned, ot_pay = money(p.fixed * paid_days / days), money(ot_hours * hour_rate)
    late = money(late_minutes * hour_rate / 60)
    gross = earned + ot_pay + incentive
    tds, advance = _monthly_tds(p.fixed), _advance(rng, p)
    deductions = late + tds + advance
    return {"year": year, "month": month, "employee_key": p.code, "employee_code": p.code,
            "employee_name": p.name, "department": DEPARTMENTS[p.department][0],
            "designation": p.title, "fixed_salary": p.fixed, "paid_days": paid_days,
            "absent_days": absent, "ot_hours": ot_hours, "ot_pay": ot_pay,
            "late_minutes": late_minutes, "late_deduction": late, "incentive": incentive,
            "gross": gross, "tds": tds, "advance": advance, "other_deductions": Decimal(0),
            "total_deductions": deductions, "net": gross - deductions, "source": "excel"}


def generate_payroll(employees: int, months: int, last: int, seed: int = SEED) -> list[dict]:
    """Salary rows for `months` months ending at month index `last`: raises every April,
    joiners and leavers (staff grows about 1% a month), overtime, late minutes, TDS, advances.
    """
    rng = random.Random(seed)
    first = last - months + 1
    staff = [_hire(rng, n + 1, first - 12) for n in range(employees)]
    hired = employees
    rows = []
    for index in range(first, last + 1):
        if index > first:
            if index % 12 == 3:  # April: the appraisal cycle.
                for p in staff:
                    p.fixed = Decimal(round(p.fixed * Decimal(rng.uniform(1.04, 1.12)) / 100) * 100)
            for p in staff:
                if p.left is None and rng.random() < 0.015:
                    p.left, p.leave_day = index, rng.randint(5, 28)
            target = round(employees * (1 + 0.01 * (index - first)))
            active = sum(1 for p in staff if p.left is None or p.left == index)
            for _ in range(max(0, target - active) + rng.choice((0, 0, 1))):
                hired += 1
                staff.append(_hire(rng, hired, index, rng.randint(1, 20)))
        for p in staff:
            if p.joined <= index and (p.left is None or p.left >= index):
                rows.append(_pay_row(rng, p, index))
        staff = [p for p in staff if p.left is None or p.left > index]
    return rows


def insert_payroll(tenant_id: int, rows: list[dict]) -> int:
    """Bulk-insert salary rows with Core executemany (no ORM objects), without committing."""
    table = SalaryRow.__table__
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = [dict(row, tenant_id=tenant_id) for row in rows[start:start + INSERT_CHUNK]]
        db.session.execute(sa.insert(table), chunk)
    return len(rows)


def sync_missing_charts(tenant_id: int) -> int:
    """Aggregate every month that has salary rows but no chart rows, right now (no worker)."""
    periods = db.session.execute(
        sa.select(SalaryRow.year, SalaryRow.month).where(SalaryRow.tenant_id == tenant_id)
        .group_by(SalaryRow.year, SalaryRow.month)).all()
    charted = set(db.session.execute(
        sa.select(ChartAggregatedData.year, ChartAggregatedData.month)
        .where(ChartAggregatedData.tenant_id == tenant_id).distinct()).all())
    todo = [(p.year, p.month) for p in periods if (p.year, p.month) not in charted]
    for year, month in sorted(todo):
        aggregation.sync_chart_data(tenant_id, year, month, "excel")
    return len(todo)


def _ensure_tenant_and_logins(new_passwords: bool = False) -> tuple[Tenant, dict[str, str]]:
    """The demo tenant and its logins; returns the passwords made now (shown once)."""
    tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == TENANT_SLUG))
    if tenant is None:
        tenant = accounts.create_tenant(TENANT_NAME, TENANT_SLUG)
    made = {}
    for email, role, name, in_tenant in LOGINS:
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            made[email] = secrets.token_urlsafe(12)
            accounts.create_user(email, made[email], name=name, role=role,
                                 tenant=tenant if in_tenant else None)
        elif new_passwords:
            made[email] = secrets.token_urlsafe(12)
            accounts.set_password(user, made[email])
    db.session.commit()
    return tenant, made


def month_index_of_last_month(today: dt.date | None = None) -> int:
    """Last month as a month index (year * 12 + month - 1)."""
    today = today or dt.date.today()
    return today.year * 12 + today.month - 2


def seed_demo(employees: int = 120, months: int = 12, today: dt.date | None = None, *,
              production: bool = False, new_passwords: bool = False) -> dict:
    """Create the demo tenant, its logins and `months` months of payroll ending last month.

    Idempotent: a second run finds everything in place and changes nothing (unless asked
    for new passwords). Raises DemoRefused when `production` is true.
    """
    if production:
        raise DemoRefused("Demo data is never seeded in production (PAYDASH_ENV=production): "
                          "create real users with `flask --app app create-user`.")
    tenant, made = _ensure_tenant_and_logins(new_passwords)
    last = month_index_of_last_month(today)
    has_payroll = db.session.scalar(
        sa.select(SalaryRow.id).where(SalaryRow.tenant_id == tenant.id).limit(1)) is not None
    inserted, history = 0, None
    if not has_payroll:
        # Issue 17: a year of uploads, browser-saved months and employees, not bare rows.
        rows = generate_payroll(employees, months, last)
        hr_id = db.session.scalar(sa.select(User.id).where(User.email == LOGINS[0][0]))
        history = demo_history.seed_history(tenant, hr_id, rows, last, months,
                                            sample_dir=pathlib.Path(current_app.instance_path))
        inserted = len(rows)
        logger.info("demo: %s salary rows written for tenant %s", inserted, tenant.id)
    synced = sync_missing_charts(tenant.id)
    port = os.environ.get("PORT", "5000")
    return {
        "url": f"http://127.0.0.1:{port}/",
        "tenant": {"name": tenant.name, "slug": tenant.slug},
        "logins": [{"email": e, "password": made.get(e, PASSWORD_SHOWN_BEFORE), "role": r}
                   for e, r, _, _ in LOGINS],
        "salary_rows_inserted": inserted,
        "months_aggregated": synced,
        "sample_sheet": (history or {}).get("sample_sheet"),
        "note": "Demo passwords are made for this install and shown only when made: keep them now.",
    }
