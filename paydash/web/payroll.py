"""Placeholder blueprint, replaced by its feature."""
from flask import Blueprint

bp = Blueprint("payroll", __name__)
