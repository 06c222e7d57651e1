"""`manage.py start` on a laptop: a quiet access log, and the logins printed last."""
import datetime as dt
import subprocess
import sys
import time

from gunicorn.config import Config

import manage
from paydash.web.accesslog import PageAccessLogger

SEED_OUTPUT = """2026-12-04 08:57:24,162 INFO paydash.services.demo: demo: 1521 salary rows written
{
  "url": "http://127.0.0.1:5000/",
  "logins": [{"email": "hr@demo.paydash", "password": "demo-hr-2026", "role": "hr"}],
  "sample_sheet": "/srv/instance/demo-salary-sheet-2026-09.xlsx",
  "note": "Demo passwords are fixed and public."
}
"""


def test_the_ready_message_has_the_url_logins_and_sample_sheet_despite_log_lines_before():
    text = manage.ready_message(SEED_OUTPUT, "5001")
    assert "http://127.0.0.1:5001/" in text
    assert "hr@demo.paydash" in text and "demo-hr-2026" in text
    assert "demo-salary-sheet-2026-09.xlsx" in text
    assert "INFO" not in text


def test_waiting_for_the_port_gives_up_when_the_servers_stop():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert manage.wait_for_port(1, proc, seconds=5) is False


class _Response:
    status = "200 OK"
    headers = []
    sent = 10
    response_length = 10


class _Request:
    headers = []
    method, path, query, uri, version = "GET", "/x", "", "/x", (1, 1)


def test_the_local_access_log_skips_static_files_but_keeps_pages(capsys):
    config = Config()
    config.set("accesslog", "-")
    logger = PageAccessLogger(config)
    for path in ("/static/css/app.css", "/favicon.ico", "/uploads"):
        environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "RAW_URI": path, "SERVER_PROTOCOL": "HTTP/1.1"}
        logger.access(_Response(), _Request(), environ, dt.timedelta(seconds=0.01))
    out = capsys.readouterr()
    logged = out.out + out.err
    assert "/uploads" in logged
    assert "/static/" not in logged and "favicon" not in logged


def test_the_logins_wait_until_the_servers_output_has_settled():
    # A stand-in for honcho: a burst of log lines, then quiet. The message must come after
    # the burst, not as soon as the port answers.
    script = ("import time\nfor i in range(5):\n    print('log line', i, flush=True)\n"
              "    time.sleep(0.3)\ntime.sleep(5)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, bufsize=1)
    relay = manage.Relay(proc.stdout)
    started = time.monotonic()
    relay.wait_for_quiet(seconds=1, at_most=10)
    waited = time.monotonic() - started
    proc.kill()
    proc.wait()
    assert relay.last - started >= 1.0  # the burst's last line came after a second or more
    assert waited >= relay.last - started + 1.0  # and the wait ended only after a quiet second
