"""Placeholder blueprint, replaced by its feature."""
from flask import Blueprint

bp = Blueprint("jobs", __name__)
