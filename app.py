"""The Paydash web app for gunicorn (`gunicorn app:app`) and `flask --app app`."""
from paydash.factory import create_app

app = create_app()
