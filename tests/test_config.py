"""Configuration: database URLs, the consumer's own flags, and a pool sized for the workers."""
import sys

import pytest
from conftest import base_config
from conftest import make_app

from paydash import config


@pytest.mark.parametrize("raw,expected", [
    (None, "sqlite:///"),
    ("postgres://u:p@db:5432/pay", "postgresql+psycopg://u:p@db:5432/pay"),
    ("postgresql://u@db/pay", "postgresql+psycopg://u@db/pay"),
    ("postgresql+psycopg://u@db/pay", "postgresql+psycopg://u@db/pay"),
])
def test_database_url_accepts_herokus_form(raw, expected):
    assert config.database_url(raw).startswith(expected)


def test_the_consumers_command_line_decides_workers_and_type(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/venv/bin/huey_consumer", "huey_app.huey", "-w", "16",
                                      "-k", "process", "--graceful-signal", "TERM"])
    assert config._consumer_flags() == {"WORKERS": 16, "WORKER_TYPE": "process"}


def test_other_processes_keep_the_environment(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/venv/bin/gunicorn", "app:app", "-w", "4"])
    assert config._consumer_flags() == {}


def test_the_pool_has_room_for_every_worker_thread(tmp_path, sqlite_url):
    app = make_app(base_config(tmp_path, sqlite_url, DB_POOL_SIZE=36))
    from paydash.extensions import db
    with app.app_context():
        assert db.engine.pool.size() == 36
