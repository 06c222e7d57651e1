"""While the database does not answer: 503, Retry-After, and a page that says the data is safe."""
import pytest
from conftest import PASSWORD
from conftest import People
from conftest import base_config
from conftest import free_port
from conftest import login
from conftest import make_app

from paydash.extensions import db
from paydash.factory import create_app


@pytest.fixture
def signed_in_then_outage(tmp_path, sqlite_url):
    """A client signed in while the database answered, then an app whose database is gone."""
    config = base_config(tmp_path, sqlite_url)
    healthy = make_app(config)
    People(healthy)
    client = login(healthy.test_client(), "hr@acme.test")
    session_cookie = client.get_cookie("session").value
    dead = dict(config, SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone")
    down = create_app(dead)
    down_client = down.test_client()
    down_client.set_cookie("session", session_cookie)
    yield down_client, down.test_client()
    for app in (healthy, down):
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_page_answers_503_with_retry_after_and_says_the_data_is_safe(signed_in_then_outage):
    client, _ = signed_in_then_outage
    response = client.get("/")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    page = response.get_data(as_text=True)
    assert "Your data is safe" in page and "Traceback" not in page


def test_a_json_call_answers_503_in_json(signed_in_then_outage):
    client, _ = signed_in_then_outage
    response = client.get("/api/jobs/no-such-job")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.get_json()["error"] == "Temporarily unavailable"


def test_sign_in_answers_503_not_500(signed_in_then_outage):
    _, anonymous = signed_in_then_outage
    response = anonymous.post("/login", data={"email": "hr@acme.test", "password": PASSWORD})
    assert response.status_code == 503
    assert "Your data is safe" in response.get_data(as_text=True)
