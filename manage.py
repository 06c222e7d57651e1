#!/usr/bin/env python3
"""Set up and run Paydash with nothing but Python 3.11+ (standard library only).

    python3 manage.py start   # venv + install + migrate + demo data, then web + worker
                              # (on 127.0.0.1 only; `start --public` serves the network)
    python3 manage.py test    # venv + install (with test tools), then the whole suite

Both create `.venv/` beside this file on first use and reinstall only when a
requirements file changes.
"""
import hashlib
import os
import pathlib
import subprocess
import sys
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
    flask("seed-demo", env=env)
    print(f"\nPaydash is starting at http://127.0.0.1:{env['PORT']}/  (Ctrl-C stops web and worker)\n",
          flush=True)
    # honcho runs the Procfile's web and worker exactly as a platform would; Ctrl-C stops both.
    cmd = [str(BIN / "honcho"), "start", "-f", "Procfile", "-p", env["PORT"], "web", "worker"]
    try:
        return subprocess.call(cmd, cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 0


def test(argv: list[str]) -> int:
    ensure_venv("requirements-dev.txt")
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.call([str(PY), "-m", "pytest", *argv], cwd=ROOT, env=env)


def main() -> int:
    commands = {"start": start, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
