"""The consumer loads none of the web's modules (issue 18: worker peak ≤ 200 MB).

`import huey_app` used to pull in every blueprint through `create_app`, and with them
Flask-Migrate (alembic, mako, pygments), Flask-WTF (wtforms), limits, segno, pyotp,
prometheus_client and `paydash.accounts`, whose import hashes a dummy password with scrypt
(a 32 MiB peak). The consumer builds its app with `create_worker_app` and never needs them;
the web app (`import app`) still loads them all. Each side runs in a fresh interpreter, as
`huey_consumer` and gunicorn do, since this test process has imported everything already.
"""
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

# What only the web uses, and what each brought in.
WEB_ONLY = [
    "flask_migrate", "alembic", "mako", "pygments",  # `flask db` migrations
    "flask_wtf", "wtforms",  # forms' CSRF protection
    "limits",  # sign-in rate limits (paydash.web.signin_limits)
    "segno", "pyotp",  # two-step sign-in (paydash.twostep)
    "prometheus_client",  # /metrics
    "openpyxl",  # workbooks written for people (template, registers) and the employee upload
    "paydash.web", "paydash.cli", "paydash.accounts", "paydash.twostep",
]

REPORT = (
    "import json, sys\n"
    "print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))\n"
)


def loaded(tmp_path, script: str, *argv: str) -> list[str]:
    """Which of WEB_ONLY a fresh interpreter has loaded after running `script`."""
    env = {**os.environ, "SECRET_KEY": "test-secret",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
           "HUEY_SQLITE_PATH": str(tmp_path / "huey.db"), "PAYDASH_INSTANCE": str(tmp_path / "instance"),
           "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    code = "import sys; sys.argv = sys.argv[1:]\n" + script + REPORT.format(modules=WEB_ONLY)
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [
    ["python"],  # any process that imports the tasks' module
    ["/venv/bin/huey_consumer", "huey_app.huey"],  # the consumer: builds its app at import
], ids=["import", "consumer"])
def test_the_consumer_loads_none_of_the_webs_modules(tmp_path, argv):
    script = ("import huey_app\n"
              "from paydash.ledger import bridge\n"
              "bridge.flask_app()\n")  # The worker's app, as the first task builds it.
    assert loaded(tmp_path, script, *argv) == []


def test_the_web_app_still_loads_them_and_serves_a_page(tmp_path):
    script = ("import app\n"
              "assert app.app.test_client().get('/login').status_code == 200\n")
    assert loaded(tmp_path, script, "gunicorn", "app:app") == sorted(WEB_ONLY)
