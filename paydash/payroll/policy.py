"""A tenant's payroll settings: days basis, working hours, variance and statutory switches.

Tenant admins change them; every change is written to the audit log with the old and the
new value. Months already marked paid keep their stored figures; a saved month takes the
new settings the next time it is saved.
"""
import logging
from collections.abc import Mapping
from decimal import Decimal

from paydash import audit
from paydash.extensions import db
from paydash.models import Tenant
from paydash.payroll import calculator
from paydash.payroll import statutory

logger = logging.getLogger(__name__)

DAYS_BASIS_LABELS = {
    "calendar": "Calendar days of the month (28–31)",
    "30": "30 days",
    "26": "26 days (working days)",
    "30.4": "30.4 days (average month)",
}
FIELDS = ("days_basis", "shift_hours", "break_hours", "variance_pct", "pf_enabled",
          "esi_enabled", "pt_state")
NUMBERS = {  # field: (label, lowest allowed, highest allowed)
    "shift_hours": ("Shift hours", Decimal("0.5"), Decimal(24)),
    "break_hours": ("Break hours", Decimal(0), Decimal(23)),
    "variance_pct": ("Variance %", Decimal(0), Decimal("999")),
}


class SettingsError(ValueError):
    """The form has mistakes; `errors` maps field name to a message for HR."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def current(tenant: Tenant) -> dict:
    """The tenant's settings as the form shows them."""
    return {name: getattr(tenant, name) for name in FIELDS}


def form_values(form: Mapping) -> dict:
    """What was submitted, shaped like `current` so a refused form shows it again."""
    values = {name: (form.get(name) or "").strip() for name in FIELDS}
    values["pf_enabled"] = bool(form.get("pf_enabled"))
    values["esi_enabled"] = bool(form.get("esi_enabled"))
    return values


def parse(form: Mapping) -> tuple[dict, dict[str, str]]:
    """The submitted settings as typed values, and a message per field that is wrong."""
    raw = form_values(form)
    values, errors = {"pf_enabled": raw["pf_enabled"], "esi_enabled": raw["esi_enabled"]}, {}
    if raw["days_basis"] in calculator.DAYS_BASES:
        values["days_basis"] = raw["days_basis"]
    else:
        errors["days_basis"] = "Choose a days basis from the list"
    if raw["pt_state"] and raw["pt_state"] not in statutory.PT_STATES:
        errors["pt_state"] = "Choose a state from the list, or none"
    values["pt_state"] = raw["pt_state"] or None
    for name, (label, low, high) in NUMBERS.items():
        value, message = _number(label, raw[name], low, high)
        if message:
            errors[name] = message
        else:
            values[name] = value
    if ("shift_hours" in values and "break_hours" in values
            and values["break_hours"] >= values["shift_hours"]):
        errors["break_hours"] = "The break must be shorter than the shift"
    return values, errors


def _number(label: str, text: str, low: Decimal, high: Decimal) -> tuple[Decimal | None, str]:
    try:
        value = calculator.parse_number(text)
    except ValueError:
        return None, f"{label}: '{text}' is not a number"
    if value is None:
        return None, f"{label} is required"
    if not low <= value <= high:
        return None, f"{label} must be between {low:f} and {high:f}"
    if value != value.quantize(Decimal("0.01")):
        return None, f"{label}: use at most 2 decimal places"
    return value.quantize(Decimal("0.01")), ""


def _as_text(value) -> str | bool | None:
    # Decimals go to the audit log as text with two places, so 9 and 9.00 read the same.
    return f"{Decimal(value):.2f}" if isinstance(value, Decimal) else value


def _changes(tenant: Tenant, values: dict) -> dict[str, dict]:
    changes = {}
    for name in FIELDS:
        old, new = _as_text(getattr(tenant, name)), _as_text(values[name])
        if old != new:
            changes[name] = {"old": old, "new": new}
    return changes


def update(tenant: Tenant, form: Mapping, user_id: int | None,
           ip: str | None = None) -> dict[str, dict]:
    """Apply the submitted settings and audit them; returns {field: {old, new}} that changed.

    Raises SettingsError (nothing changed) when any field is wrong.
    """
    values, errors = parse(form)
    if errors:
        raise SettingsError(errors)
    changes = _changes(tenant, values)
    if not changes:
        return {}
    for name in changes:
        setattr(tenant, name, values[name])
    audit.record("payroll.settings", user_id=user_id, tenant_id=tenant.id,
                 target="Changed payroll settings", detail={"Changes": describe(changes)}, ip=ip)
    db.session.commit()
    logger.info("tenant %s payroll settings changed by user %s: %s", tenant.id, user_id,
                ", ".join(changes))
    return changes


def describe(changes: dict[str, dict]) -> str:
    """One line for the person who made the change: 'Shift hours 9.00 → 8.50, PF on'."""
    labels = {"days_basis": "Days basis", "pt_state": "Professional tax state",
              "pf_enabled": "PF", "esi_enabled": "ESI",
              **{name: label for name, (label, _low, _high) in NUMBERS.items()}}

    def shown(value):
        if isinstance(value, bool):
            return "on" if value else "off"
        return statutory.PT_STATES.get(value, value) if value is not None else "none"

    return ", ".join(f"{labels[name]} {shown(c['old'])} → {shown(c['new'])}"
                     for name, c in changes.items())
