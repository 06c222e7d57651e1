"""Payroll in the browser: the employee master, the month's sheet, save, lock and register."""
import datetime as dt
import logging

from flask import Blueprint
from flask import abort
from flask import flash
from flask import g
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from paydash import audit
from paydash.extensions import db
from paydash.formatting import indian_number
from paydash.ledger.jobs import job_as_dict
from paydash.models import Employee
from paydash.models import Role
from paydash.payroll import employees
from paydash.payroll import monthly
from paydash.payroll import policy
from paydash.payroll import register
from paydash.payroll import statutory
from paydash.web.access import client_ip
from paydash.web.access import get_owned_or_404
from paydash.web.access import roles_required
from paydash.web.links import attachment

logger = logging.getLogger(__name__)

bp = Blueprint("payroll", __name__, url_prefix="/payroll")
TENANT_ROLES = (Role.HR.value, Role.TENANT_ADMIN.value)
MAX_IMPORT_BYTES = 5 * 1024 * 1024


def _tenant():
    if g.user.tenant is None:
        abort(403)
    return g.user.tenant


def _period(year: int, month: int) -> None:
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        abort(404)


def _money_dict(pay) -> dict:
    names = ("paid_days", "salary_for_paid_days", "ot_pay", "late_deduction", "incentive",
             "gross", "tds", "pf", "esi", "pt", "advance", "net")
    return {name: str(getattr(pay, name)) for name in names}


# --- Months ---------------------------------------------------------------------------------


@bp.get("/")
@roles_required(*TENANT_ROLES)
def index():
    """Pick a month (or jump to one with ?period=YYYY-MM) and see the months worked so far."""
    tenant = _tenant()
    period = request.args.get("period", "")
    if period:
        try:
            chosen = dt.datetime.strptime(period, "%Y-%m")
        except ValueError:
            flash("Pick a month from the list.", "error")
        else:
            return redirect(url_for("payroll.month_sheet", year=chosen.year, month=chosen.month))
    today = dt.date.today()
    return render_template("payroll/index.html", months=monthly.list_months(tenant.id),
                           default_period=f"{today.year}-{today.month:02d}",
                           employee_count=employees.count_active(tenant.id))


@bp.get("/<int:year>/<int:month>")
@roles_required(*TENANT_ROLES)
def month_sheet(year: int, month: int):
    _period(year, month)
    tenant = _tenant()
    view = monthly.month_view(tenant, year, month)
    return render_template("payroll/sheet.html", view=view, year=year, month=month,
                           is_admin=g.user.role == Role.TENANT_ADMIN.value,
                           basis_labels=policy.DAYS_BASIS_LABELS)


def _inputs_from_request() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("inputs", {}), dict):
        abort(400)
    return body.get("inputs") or {}


@bp.put("/<int:year>/<int:month>/draft")
@roles_required(*TENANT_ROLES)
def save_draft(year: int, month: int):
    _period(year, month)
    try:
        saved_at = monthly.save_draft(_tenant().id, year, month, _inputs_from_request(),
                                             g.user.id)
    except monthly.MonthLocked as exc:
        db.session.rollback()
        return jsonify(error="Locked", detail=str(exc)), 409
    return jsonify(saved_at=saved_at)


@bp.post("/<int:year>/<int:month>/preview")
@roles_required(*TENANT_ROLES)
def preview(year: int, month: int):
    """The server's own figures for HR's cells, the row errors and the variance flags."""
    _period(year, month)
    tenant = _tenant()
    lines, errors = monthly.compute_month(tenant, year, month, _inputs_from_request())
    return jsonify(rows={str(line.employee.id): _money_dict(line.pay) for line in lines},
                   net_total=str(sum((line.pay.net for line in lines), 0)),
                   errors=errors, variance=monthly.variance(tenant, year, month, lines))


@bp.post("/<int:year>/<int:month>/save")
@roles_required(*TENANT_ROLES)
def save(year: int, month: int):
    _period(year, month)
    try:
        job = monthly.save_month(_tenant(), year, month, _inputs_from_request(), g.user.id,
                                 ip=client_ip())
    except monthly.MonthLocked as exc:
        db.session.rollback()
        return jsonify(error="Locked", detail=str(exc)), 409
    except monthly.MonthInputError as exc:
        db.session.rollback()
        return jsonify(error="Please fix the highlighted cells", detail=str(exc),
                       errors=exc.errors, summary=exc.summary), 422
    return jsonify(job=job_as_dict(job)), 202


@bp.post("/<int:year>/<int:month>/paid")
@roles_required(*TENANT_ROLES)
def mark_paid(year: int, month: int):
    _period(year, month)
    try:
        record = monthly.mark_paid(_tenant().id, year, month, g.user.id,
                                          ip=client_ip())
        recovered = len(record.advances_recovered or {})
        flash("Marked paid. The month is locked."
              + (f" Advance balances reduced for {recovered} "
                                 f"employee{'s' if recovered != 1 else ''}." if recovered else ""),
              "success")
    except monthly.MonthInputError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for("payroll.month_sheet", year=year, month=month))


@bp.post("/<int:year>/<int:month>/unlock")
@roles_required(Role.TENANT_ADMIN.value)
def unlock(year: int, month: int):
    _period(year, month)
    try:
        monthly.unlock(_tenant().id, year, month, g.user,
                              reason=request.form.get("reason", ""), ip=client_ip())
        flash("Unlocked. The change is in the audit log.", "success")
    except monthly.NotAllowed:
        abort(403)
    except monthly.MonthInputError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for("payroll.month_sheet", year=year, month=month))


@bp.get("/<int:year>/<int:month>/register.xlsx")
@roles_required(*TENANT_ROLES)
def register_xlsx(year: int, month: int):
    _period(year, month)
    tenant = _tenant()
    data = register.salary_register(tenant, year, month)
    filename = f"salary-register-{tenant.slug}-{year}-{month:02d}.xlsx"
    return attachment(data, filename)


# --- Settings -------------------------------------------------------------------------------


@bp.route("/settings", methods=["GET", "POST"])
@roles_required(*TENANT_ROLES)
def settings():
    """The tenant's payroll settings: admins change them, HR reads them."""
    tenant = _tenant()
    can_edit = g.user.role == Role.TENANT_ADMIN.value
    values, errors = policy.current(tenant), {}
    if request.method == "POST":
        if not can_edit:
            abort(403)
        try:
            changes = policy.update(tenant, request.form, g.user.id, ip=client_ip())
        except policy.SettingsError as exc:
            db.session.rollback()
            values, errors = policy.form_values(request.form), exc.errors
        else:
            flash("Saved: " + policy.describe(changes) + "." if changes
                  else "Nothing changed.", "success")
            return redirect(url_for("payroll.settings"))
    return render_template("payroll/settings.html", values=values, errors=errors,
                           can_edit=can_edit, basis_labels=policy.DAYS_BASIS_LABELS,
                           pt_states=statutory.PT_STATES, pf=statutory.pf_on(dt.date.today()),
                           esi=statutory.esi_on(dt.date.today())), 422 if errors else 200


# --- Employees ------------------------------------------------------------------------------


@bp.get("/employees")
@roles_required(*TENANT_ROLES)
def employee_list():
    tenant = _tenant()
    return render_template("payroll/employees.html", tenant=tenant,
                           employees=employees.list_employees(tenant.id),
                           pt_states=statutory.PT_STATES)


@bp.route("/employees/new", methods=["GET", "POST"])
@roles_required(*TENANT_ROLES)
def employee_new():
    return _employee_form(None)


@bp.route("/employees/<int:employee_id>", methods=["GET", "POST"])
@roles_required(*TENANT_ROLES)
def employee_edit(employee_id: int):
    return _employee_form(get_owned_or_404(Employee, employee_id))


def _employee_form(employee: Employee | None):
    tenant = _tenant()
    errors, values = {}, {}
    if request.method == "POST":
        values = request.form.to_dict()
        values["active"] = "yes" if request.form.get("active") else "no"
        try:
            saved = employees.save_employee(tenant.id, values, employee)
        except employees.EmployeeError as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            verb = "Added" if employee is None else "Changed"
            audit.record("employee.added" if employee is None else "employee.changed",
                         user_id=g.user.id, tenant_id=tenant.id,
                         target=f"{verb} employee {saved.code} ({saved.name})", ip=client_ip(),
                         detail={"Department": saved.department,
                                 "Monthly salary": indian_number(saved.monthly_salary, 2),
                                 "TDS %": str(saved.tds_pct),
                                 "Advance balance": indian_number(saved.advance_balance, 2),
                                 "Active": saved.active})
            db.session.commit()
            flash(f"Saved {saved.name} ({saved.code}).", "success")
            return redirect(url_for("payroll.employee_list"))
    elif employee is not None:
        values = {name: getattr(employee, name) for name, *_ in employees.FIELDS}
    else:
        values = {"active": True, "ot_multiplier": "1", "tds_pct": "0", "advance_balance": "0"}
    status = 422 if errors else 200
    return render_template("payroll/employee_form.html", employee=employee, values=values,
                           errors=errors, fields=employees.FIELDS), status


@bp.post("/employees/import")
@roles_required(*TENANT_ROLES)
def employee_import():
    tenant = _tenant()
    upload = request.files.get("file")
    data = upload.read(MAX_IMPORT_BYTES + 1) if upload else b""
    if not data:
        flash("Choose an .xlsx file to import.", "error")
        return redirect(url_for("payroll.employee_list"))
    if len(data) > MAX_IMPORT_BYTES:
        flash("That file is larger than 5 MB. Keep one sheet with the employee list.", "error")
        return redirect(url_for("payroll.employee_list"))
    result = employees.import_workbook(tenant.id, data)
    if result.errors:
        db.session.rollback()
        return render_template("payroll/employees.html", tenant=tenant,
                               employees=employees.list_employees(tenant.id),
                               import_errors=result.errors, pt_states=statutory.PT_STATES), 422
    audit.record("employee.imported", user_id=g.user.id, tenant_id=tenant.id,
                 target=f"Imported employees from {upload.filename}"[:200], ip=client_ip(),
                 detail={"New": result.created, "Updated": result.updated})
    db.session.commit()
    flash(f"Imported: {result.created} new, {result.updated} updated.", "success")
    return redirect(url_for("payroll.employee_list"))
