#!/usr/bin/env python3
"""Set up and run Paydash with nothing but Python 3.11+ (standard library only).

    python3 manage.py start   # venv + install + migrate + demo data, then web + worker
                              # (on 127.0.0.1 only; `start --public` serves the network)
    python3 manage.py test    # venv + install (with test tools), then the whole suite
    python3 manage.py gallery # screenshots of every page into docs/gallery/

Both create `.venv/` beside this file on first use and reinstall only when a
requirements file changes.
"""
import hashlib
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import threading
import time
import venv

ROOT = pathlib.Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def ensure_venv(requirements: str) -> None:
    """Create the virtualenv and install `requirements` unless already installed."""
    if sys.version_info < (3, 11):
        sys.exit("Paydash needs Python 3.11 or newer.")
    if not PY.exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256()
    for name in ("requirements.txt", requirements):
        digest.update((ROOT / name).read_bytes())
    stamp = VENV / f".installed-{requirements}"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    print(f"Installing {requirements} ...", flush=True)
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "-r", str(ROOT / requirements)],
                   check=True)
    stamp.write_text(digest.hexdigest())


def flask(*args: str, env: dict) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "app", *args], check=True, cwd=ROOT, env=env)


def bind_address(argv: list[str], env: dict) -> str:
    """Issue 16: a laptop serves only itself unless asked; the Procfile's platforms keep 0.0.0.0."""
    return "0.0.0.0" if "--public" in argv else env.get("BIND", "127.0.0.1")


def start(argv: list[str]) -> int:
    ensure_venv("requirements.txt")
    env = dict(os.environ)
    env.setdefault("PORT", "5000")
    env["BIND"] = bind_address(argv, env)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    flask("db", "upgrade", env=env)
    seeded = subprocess.run([str(BIN / "flask"), "--app", "app", "seed-demo"], check=True, cwd=ROOT,
                            env=env, capture_output=True, text=True).stdout
    # Locally the access log leaves out static files (paydash/web/accesslog.py).
    env["GUNICORN_CMD_ARGS"] = (env.get("GUNICORN_CMD_ARGS", "") +
                                " --logger-class paydash.web.accesslog.PageAccessLogger").strip()
    print(f"\nPaydash is starting at http://127.0.0.1:{env['PORT']}/  (Ctrl-C stops web and worker)\n",
          flush=True)
    # honcho runs the Procfile's web and worker exactly as a platform would; Ctrl-C stops both.
    cmd = [str(BIN / "honcho"), "start", "-f", "Procfile", "-p", env["PORT"], "web", "worker"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    output = Relay(proc.stdout)
    try:
        if wait_for_port(int(env["PORT"]), proc):
            # The worker's first jobs (the demo's chart syncs) log a screenful just after the
            # web answers: the logins come once that has settled, so they are not scrolled away.
            output.wait_for_quiet(seconds=2, at_most=30)
            print(ready_message(seeded, env["PORT"]), flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        proc.wait()  # honcho got the same Ctrl-C and stops web and worker cleanly
        return 0


class Relay:
    """Copies the servers' output to ours line by line, noting when the last line came."""

    def __init__(self, stream) -> None:
        self.last = time.monotonic()
        threading.Thread(target=self._copy, args=(stream,), daemon=True).start()

    def _copy(self, stream) -> None:
        for line in stream:
            sys.stdout.write(line)
            sys.stdout.flush()
            self.last = time.monotonic()

    def wait_for_quiet(self, seconds: float, at_most: float) -> None:
        """Return once no line has come for `seconds`, or after `at_most` seconds in all."""
        deadline = time.monotonic() + at_most
        while time.monotonic() < deadline and time.monotonic() - self.last < seconds:
            time.sleep(0.2)


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 60) -> bool:
    """True once something answers on 127.0.0.1:`port`; False if `proc` ends or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.3)
    return False


def ready_message(seed_output: str, port: str) -> str:
    """The URL, the demo logins and the sample sheet, printed after the servers' start-up lines."""
    # The command's log lines come first; its JSON answer starts at the first line that is "{".
    start = re.search(r"^\{$", seed_output, re.MULTILINE)
    try:
        info = json.loads(seed_output[start.start():] if start else "")
    except ValueError:
        return f"\nPaydash is ready at http://127.0.0.1:{port}/\n{seed_output}"
    lines = ["", "=" * 64, f"  Paydash is ready:  http://127.0.0.1:{port}/", "", "  Sign in as:"]
    lines += [f"    {e['role']:<18} {e['email']:<24} {e['password']}" for e in info.get("logins", [])]
    if info.get("sample_sheet"):
        lines += ["", f"  A salary sheet to try an upload with: {info['sample_sheet']}"]
    lines += ["", f"  {info.get('note', '')}", "=" * 64, ""]
    return "\n".join(lines)


def test(argv: list[str]) -> int:
    ensure_venv("requirements-dev.txt")
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.call([str(PY), "-m", "pytest", *argv], cwd=ROOT, env=env)


def gallery(argv: list[str]) -> int:
    """Screenshots of every page into docs/gallery/ (tools/gallery.py; needs Chromium)."""
    ensure_venv("requirements-dev.txt")
    return subprocess.call([str(PY), str(ROOT / "tools" / "gallery.py"), *argv], cwd=ROOT)


def main() -> int:
    commands = {"start": start, "test": test, "gallery": gallery}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
