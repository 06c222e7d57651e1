"""Placeholder blueprint, replaced by its feature."""
from flask import Blueprint
from flask import render_template

from paydash.web.access import login_required

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
def index():
    return render_template("base.html")
