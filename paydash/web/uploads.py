"""Placeholder blueprint, replaced by its feature."""
from flask import Blueprint

bp = Blueprint("uploads", __name__)
