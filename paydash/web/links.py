"""Responses and links several blueprints build the same way."""
from flask import current_app
from flask import url_for

from paydash.sheets.exports import XLSX_MIMETYPE


def attachment(data: bytes | str, filename: str, mimetype: str = XLSX_MIMETYPE):
    """A download: the file name quoted safely, and never kept in a shared cache."""
    response = current_app.response_class(data, mimetype=mimetype)
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def month_dashboard_url(year: int, month: int) -> str:
    """The dashboard showing just one month (its custom range form)."""
    value = f"{year:04d}-{month:02d}"
    return url_for("dashboard.index", period="custom", **{"from": value, "to": value})
