"""A worker gives a big job's memory back: fixed malloc thresholds from the consumer's start,
a trim after each import task (issue 18, the consumer's peak over repeated imports).

What it saves is measured by `bench/import_bench.py` (several imports in one consumer), not
here: these tests check that each piece is wired and does what glibc is asked.
"""
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from paydash.ledger import memory


class FakeLibc:
    def __init__(self, answer: int = 1):
        self.answer = answer
        self.calls: list[tuple] = []

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append(("mallopt", parameter, value))
        return self.answer

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def libc(monkeypatch):
    fake = FakeLibc()
    monkeypatch.setattr(memory, "glibc", lambda: fake)
    for name in memory.DEPLOYER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return fake


def test_tuning_fixes_the_mmap_and_trim_thresholds(libc):
    assert memory.tune_allocator() is True
    assert libc.calls == [("mallopt", memory.M_MMAP_THRESHOLD, 1024 * 1024),
                          ("mallopt", memory.M_TRIM_THRESHOLD, 1024 * 1024)]


@pytest.mark.parametrize("name", memory.DEPLOYER_SETTINGS)
def test_a_deployers_own_malloc_setting_is_kept(libc, monkeypatch, name):
    monkeypatch.setenv(name, "65536")
    assert memory.tune_allocator() is False
    assert libc.calls == []


def test_a_refused_setting_is_logged_not_raised(libc, caplog):
    libc.answer = 0
    assert memory.tune_allocator() is False
    assert "could not set malloc's thresholds" in caplog.text


def test_giving_back_collects_garbage_then_trims(libc, monkeypatch):
    # One list for both, so the order is checked: a trim before the collection would keep
    # what the collection then frees.
    monkeypatch.setattr(memory.gc, "collect", lambda: libc.calls.append(("collect",)))
    memory.give_back()
    assert libc.calls == [("collect",), ("malloc_trim", 0)]


def test_without_glibc_both_do_nothing(monkeypatch):
    monkeypatch.setattr(memory, "glibc", lambda: None)
    assert memory.tune_allocator() is False
    memory.give_back()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc is Linux's")
def test_this_machines_glibc_takes_both_settings_and_the_trim():
    script = ("from paydash.ledger import memory\n"
              "libc = memory.glibc()\n"
              "assert libc is not None, 'no glibc found'\n"
              "assert memory.tune_allocator() is True\n"
              "memory.give_back()\n"
              "print('ok')\n")
    env = {k: v for k, v in os.environ.items() if k not in memory.DEPLOYER_SETTINGS}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


@pytest.mark.parametrize("name, service", [("import_salary_sheet", "validate_upload"),
                                           ("commit_salary_sheet", "commit_upload")])
@pytest.mark.parametrize("ends", ["returns", "raises"])
def test_each_import_task_gives_memory_back_however_it_ends(app, monkeypatch, name, service, ends):
    from tasks import imports as import_tasks  # noqa: PLC0415
    events = []

    def run(upload_id, tenant_id):
        events.append("ran")
        if ends == "raises":
            raise RuntimeError("the sheet reader died")
        return {"upload_id": upload_id}
    monkeypatch.setattr(import_tasks.imports, service, run)
    monkeypatch.setattr(memory, "give_back", lambda: events.append("given back"))
    task = getattr(import_tasks, name)
    if ends == "raises":
        with pytest.raises(RuntimeError):
            task.call_local(7, 1)
    else:
        assert task.call_local(7, 1) == {"upload_id": 7}
    assert events == ["ran", "given back"]


def test_the_consumer_tunes_the_allocator_before_its_workers_start(tmp_path):
    """huey_app, imported as the consumer imports it, sets the thresholds, and freezes
    what the built app is made of; imported by anything else (the web, a script), it
    leaves malloc and the collector alone."""
    script = ("import sys\n"
              "from paydash.ledger import bridge\n"
              "from paydash.ledger import memory\n"
              "calls = []\n"
              "memory.tune_allocator = lambda: calls.append('tuned') or True\n"
              "memory.freeze_startup = lambda: calls.append(\n"
              "    'frozen with the app built' if bridge._app is not None else 'frozen early')\n"
              "import huey_app\n"
              "print(calls)\n")
    env = dict(os.environ, SECRET_KEY="memory-test", PAYDASH_INSTANCE=str(tmp_path / "instance"),
               DATABASE_URL=f"sqlite:///{tmp_path / 'memory.db'}",
               HUEY_SQLITE_PATH=str(tmp_path / "huey.db"))
    env.pop("REDIS_URL", None)
    seen = {}
    for label, argv0 in (("consumer", "huey_consumer"), ("other", "gunicorn")):
        wrapped = f"import sys; sys.argv = [{argv0!r}]\n" + script
        result = subprocess.run([sys.executable, "-c", wrapped], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        seen[label] = result.stdout.strip().splitlines()[-1]
    assert seen == {"consumer": "['tuned', 'frozen with the app built']", "other": "[]"}


def test_freezing_collects_startups_garbage_first_then_leaves_collections_little_to_walk(tmp_path):
    """Run in a process of its own: freezing this test run's objects would outlive the test.

    Garbage start-up left in a cycle is collected, not frozen for good; what is frozen
    (the app's objects) is no longer among what a collection walks."""
    script = ("import gc, weakref\n"
              "from paydash.factory import create_worker_app\n"
              "from paydash.ledger import memory\n"
              "app = create_worker_app({'SECRET_KEY': 'x', 'REDIS_URL': None})\n"
              "class Node: pass\n"
              "node = Node(); node.me = node; gone = weakref.ref(node); del node\n"
              "gc.disable()  # nothing but freeze_startup may collect it\n"
              "walked = len(gc.get_objects())\n"
              "frozen = memory.freeze_startup()\n"
              "print(gone() is None, frozen == gc.get_freeze_count(), walked, frozen,\n"
              "      len(gc.get_objects()))\n")
    env = dict(os.environ, PAYDASH_INSTANCE=str(tmp_path / "instance"),
               DATABASE_URL=f"sqlite:///{tmp_path / 'freeze.db'}")
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    collected, counted, walked, frozen, left = result.stdout.split()
    assert collected == "True" and counted == "True"
    assert int(frozen) > 0.9 * int(walked) - 100   # what was tracked is frozen
    assert int(left) < int(walked) // 20            # and collections no longer walk it
