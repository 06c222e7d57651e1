"""Private PostgreSQL and Redis servers for fault scripts, so no fault touches shared ones.

A fault script stops, restarts and wipes its servers; on a machine where other people's
tests use the shared PostgreSQL and Redis, it must only ever do that to servers of its
own. `PrivatePostgres` runs `initdb` into a temporary directory with the system's
binaries (/usr/lib/postgresql/<version>/bin) and starts `postgres` on a port of its own;
`PrivateRedis` runs `redis-server` without persistence, so a restart comes back empty.

Both take a `prefix`: the command words put in front of every server command, e.g.
`["ip", "netns", "exec", "data"]` to run the server on another network namespace's host.
PostgreSQL refuses to run as root; as root the server runs as the `postgres` user.
"""
import glob
import os
import pathlib
import shutil
import signal
import subprocess
import time


def postgres_bin() -> pathlib.Path:
    """The newest installed PostgreSQL's binaries (Debian's layout)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(pathlib.Path(p).parent.parent.name))
    if not found:
        which = shutil.which("initdb")
        if not which:
            raise RuntimeError("no PostgreSQL server binaries (initdb) on this machine")
        return pathlib.Path(which).parent
    return pathlib.Path(found[-1]).parent


class PrivatePostgres:
    """A throw-away PostgreSQL cluster in `workdir` (trust auth, user postgres, db `paydash`)."""

    def __init__(self, workdir: pathlib.Path, *, host: str = "127.0.0.1", port: int = 5432,
                 prefix: list[str] | None = None, settings: dict | None = None):
        self.dir = pathlib.Path(workdir) / "pg"
        self.host, self.port, self.prefix = host, port, list(prefix or [])
        self.settings = settings or {}
        self.bin = postgres_bin()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.proc = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/paydash"

    def init(self) -> "PrivatePostgres":
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            # The postgres user must reach its directory through our 0700 temporary ones.
            for parent in self.dir.parents:
                mode = parent.stat().st_mode
                if mode & 0o001:
                    break
                parent.chmod(mode | 0o011)
            shutil.chown(self.dir, "postgres", "postgres")
            self.dir.chmod(0o700)
        subprocess.run(self.as_user + [str(self.bin / "initdb"), "-D", str(self.dir / "data"),
                                       "-A", "trust", "-U", "postgres", "-E", "UTF8",
                                       "--no-sync", "--no-instructions"],
                       check=True, stdout=subprocess.DEVNULL)
        # Other hosts of the run's private network connect over TCP (the run is its own
        # network: nothing outside can reach this server).
        with open(self.dir / "data" / "pg_hba.conf", "a") as hba:
            hba.write("host all all samenet trust\n")
        return self

    def start(self, timeout: float = 30) -> "PrivatePostgres":
        options = {"listen_addresses": self.host, "port": self.port,
                   "unix_socket_directories": str(self.dir), "fsync": "off",
                   "full_page_writes": "off", "synchronous_commit": "off",
                   "max_connections": 300, "shared_buffers": "128MB"} | self.settings
        cmd = [str(self.bin / "postgres"), "-D", str(self.dir / "data")]
        for key, value in options.items():
            cmd += ["-c", f"{key}={value}"]
        log = open(self.dir / "postgres.log", "ab")
        self.proc = subprocess.Popen(self.prefix + self.as_user + cmd, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(timeout)
        if not (self.dir / "created").exists():
            self.psql("CREATE DATABASE paydash")
            (self.dir / "created").touch()
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited; see {self.dir / 'postgres.log'}")
            ready = subprocess.run(self.prefix + [str(self.bin / "pg_isready"), "-q", "-h",
                                                  self.host, "-p", str(self.port)])
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"postgres did not start in {timeout:.0f} s")

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(self.prefix + [str(self.bin / "psql"), "-h", self.host, "-p",
                                            str(self.port), "-U", "postgres", "-d", database,
                                            "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout.strip()

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` (SIGINT, as systemctl stop) or `immediate` (SIGQUIT, a crash).

        The signal goes to the postmaster itself (its pid file), not to `runuser` or
        `ip netns exec` in front of it.
        """
        if not self.proc or self.proc.poll() is not None:
            return
        pid_file = self.dir / "data" / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, {"fast": signal.SIGINT, "immediate": signal.SIGQUIT,
                          "smart": signal.SIGTERM}[mode])
        except (OSError, ValueError, IndexError):
            self.proc.kill()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A redis-server without persistence on its own port: a restart comes back empty."""

    def __init__(self, workdir: pathlib.Path, *, host: str = "127.0.0.1", port: int = 6379,
                 prefix: list[str] | None = None):
        self.workdir = pathlib.Path(workdir)
        self.host, self.port, self.prefix = host, port, list(prefix or [])
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 10) -> "PrivateRedis":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.prefix + ["redis-server", "--port", str(self.port), "--bind", self.host,
                           "--save", "", "--appendonly", "no", "--daemonize", "no",
                           "--protected-mode", "no", "--dir", str(self.workdir),
                           "--logfile", str(self.workdir / "redis.log")],
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.cli("PING") == "PONG":
                return self
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def cli(self, *words: str) -> str:
        out = subprocess.run(self.prefix + ["redis-cli", "-h", self.host, "-p", str(self.port),
                                            *words], capture_output=True, encoding="utf-8",
                             errors="replace")
        return out.stdout.strip()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
