"""JSON API shared by the pages: a job's state from the ledger."""
from flask import Blueprint
from flask import jsonify

from paydash.ledger.jobs import job_as_dict
from paydash.web.access import get_visible_job_or_404
from paydash.web.access import login_required

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/jobs/<job_id>")
@login_required
def job_status(job_id: str):
    """Any job the user may see: state, plain-words status, progress, timings, error."""
    return jsonify(job_as_dict(get_visible_job_or_404(job_id)))
