"""`manage.py start` serves only this machine unless asked (issue 16, item 5)."""
import os
import subprocess

from conftest import ROOT

import manage


def test_local_start_binds_loopback_by_default():
    assert manage.bind_address([], {}) == "127.0.0.1"


def test_local_start_serves_the_network_only_when_asked():
    assert manage.bind_address(["--public"], {}) == "0.0.0.0"
    assert manage.bind_address([], {"BIND": "192.168.1.5"}) == "192.168.1.5"


def test_the_procfile_binds_what_it_is_given_and_all_addresses_on_platforms():
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    command = web.split(":", 1)[1]
    def expanded(**env):
        shell_env = {k: v for k, v in os.environ.items() if k not in ("BIND", "PORT")} | env
        return subprocess.run(["sh", "-c", f"echo {command}"], env=shell_env, capture_output=True,
                              text=True, check=True).stdout
    assert "--bind 127.0.0.1:5000" in expanded(BIND="127.0.0.1")
    assert "--bind 0.0.0.0:5000" in expanded()  # a platform sets only PORT
