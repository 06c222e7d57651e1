"""Production defaults (issue 16, items 4 and 5): Secure cookies and HSTS without any proxy
setting, and demo data that refuses to be seeded there."""
import json
import os
import subprocess
import sys

from conftest import ROOT

SCRIPT = """
import json, sys
sys.path.insert(0, "tests")
from conftest import People, PASSWORD, make_app
app = make_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "HUEY_IMMEDIATE": True,
                "WTF_CSRF_ENABLED": False, "TESTING": True})
People(app)
response = app.test_client().post("/login", data={"email": "hr@acme.test", "password": PASSWORD})
print(json.dumps({"cookie": response.headers.get("Set-Cookie", ""),
                  "hsts": response.headers.get("Strict-Transport-Security", ""),
                  "status": response.status_code}))
"""


def run_in(env_name: str, tmp_path, **extra) -> dict:
    env = dict(os.environ, PAYDASH_ENV=env_name, SECRET_KEY="a-production-secret",
               PAYDASH_INSTANCE=str(tmp_path / "instance"),
               HUEY_SQLITE_PATH=str(tmp_path / "huey.db"), **extra)
    for name in ("SESSION_COOKIE_SECURE", "HSTS", "TRUST_PROXY_HEADERS", "REDIS_URL"):
        if name not in extra:
            env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", SCRIPT, f"sqlite:///{tmp_path / 'p.db'}"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_production_cookies_are_secure_httponly_lax_and_hsts_is_sent(tmp_path):
    seen = run_in("production", tmp_path)
    assert seen["status"] == 302
    cookie = seen["cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "max-age=31536000" in seen["hsts"]


def test_development_over_plain_http_keeps_cookies_usable(tmp_path):
    seen = run_in("development", tmp_path)
    assert "Secure" not in seen["cookie"] and seen["hsts"] == ""


def test_seeding_demo_data_refuses_in_production(tmp_path):
    env = dict(os.environ, PAYDASH_ENV="production", SECRET_KEY="a-production-secret",
               DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}",
               PAYDASH_INSTANCE=str(tmp_path / "instance"), HUEY_SQLITE_PATH=str(tmp_path / "huey.db"))
    env.pop("REDIS_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "create-db"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    out = subprocess.run([*flask, "seed-demo"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode != 0
    assert "production" in out.stderr and "Traceback" not in out.stderr
