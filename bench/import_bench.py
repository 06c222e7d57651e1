"""Bulk import: Paydash's whole pipeline through the real consumer vs plain readers, one run.

For sheets in the tenant's template layout (23 columns) measures, in interleaved rounds:
- **plain openpyxl**: `load_workbook(read_only=True, data_only=True)` + every row's values,
  in a venv of its own with openpyxl alone (bench/out/plain-openpyxl-venv, made with pip on
  the first run). Paydash's venv has defusedxml, which makes openpyxl parse through
  defusedxml and about 1.5x slower: that is not the reader anyone would compare against.
  If the venv cannot be made, the column is skipped with a message.
- **calamine**: python-calamine's bare read (open, load the sheet, every row's values).
- **pipeline**: receive (file checks, store, enqueue) → validate → confirm → commit → chart
  sync through a real `huey_consumer` on the SQLite queue; from the start of
  `receive_upload` to the chart sync job's SUCCESS in the ledger.
- **worker peak**: VmHWM of the consumer (a fresh consumer per size) and of the sheet
  reader's child process (logged by the reader), each on its own and summed.
- optionally (`--slowed-anchor`) openpyxl in Paydash's own venv, the old anchor.
Each reader runs in a fresh process with the clock inside it, so start-up is not counted.
With `--database postgresql` the app's database is one made for the run next to
BENCH_DATABASE_URL (bench/environment.py; point it at a private server) and dropped after it.
Medians of the rounds, and both ratios (pipeline / plain openpyxl, pipeline / calamine), of
wall time and of CPU time (the pipeline's: the consumer's with its reading child, and the
receive and confirm in this process; a reader's: its own). On a shared machine whose speed
changes from minute to minute, the CPU ratio is the steadier of the two.

    .venv/bin/python bench/import_bench.py [--sizes 10000,100000] [--runs 3] [--big-runs 3]
    .venv/bin/python bench/import_bench.py --sizes 10000,100000,500000 --runs 1 --big-runs 1
    .venv/bin/python bench/import_bench.py --sizes 100000 --database postgresql
    .venv/bin/python bench/import_bench.py --sizes 100000 --floor
    .venv/bin/python bench/import_bench.py --rows-vs-peak 10000,100000,500000 [--runs 3] \
        [--before /tmp/paydash-main] [--no-validate]

`--floor` adds two columns to the same rounds: Paydash's reader handing every row over, and
the rows' bare insert into `salary_row` (on the pipeline's database: with `--database
postgresql` in a second database made for the run); their sum is what no pipeline of these
rows can go below, printed against the 0.25 x openpyxl target.

`--rows-vs-peak` measures the sheet reader alone, no consumer: for each size, in interleaved
rounds, each in a fresh process: calamine's bare read (time, its peak), the reader handing
every row to the parent (`Workbook(data).rows(sheet)`: time, the parent's peak, the reading
child's peak) and once validation with staging (`read_salary_sheet(data, keep=RowStager.add)`,
as the import task runs it). With `--before DIR` (a `git archive` of an older commit) the
reader and validation of that tree run in the same rounds, side by side. CPU seconds (the
process's and its reading child's) are printed next to the wall times: on a shared machine
they are the figures to compare.

Targets (issue 18): pipeline ≤ 0.25x plain openpyxl at 100,000 rows (stretch: ≤ 1.5x
calamine's bare read); worker peak ≤ 200 MB; peak growing less than linearly in rows.
"""
import argparse
import json
import logging
import os
import pathlib
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
WORK = pathlib.Path(tempfile.mkdtemp(prefix="paydash-importbench-"))
os.environ["PAYDASH_INSTANCE"] = str(WORK / "instance")
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)

import environment  # noqa: E402
import sheet_builders  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from paydash import accounts  # noqa: E402
from paydash.extensions import db  # noqa: E402
from paydash.ledger.models import Job  # noqa: E402
from paydash.models import Upload  # noqa: E402
from paydash.models import UploadStatus  # noqa: E402
from paydash.services import imports  # noqa: E402
from paydash.sheets import filecheck  # noqa: E402

POLL = 0.05
PLAIN_VENV = ROOT / "bench" / "out" / "plain-openpyxl-venv"
OPENPYXL_VERSION = "3.1.5"      # the version Paydash's requirements pin
READER_PEAK = re.compile(r"sheet read in a child process: .* peak (\d+) MB")

# Each reader in a fresh process, timed inside it: what a worker pays to read the file.
OPENPYXL_READ = """
import sys, time
start, cpu = time.perf_counter(), time.process_time()
import openpyxl
book = openpyxl.load_workbook(sys.argv[1], read_only=True, data_only=True)
for _row in book.active.iter_rows(values_only=True):
    pass
book.close()
print(time.perf_counter() - start, time.process_time() - cpu, openpyxl.DEFUSEDXML)
"""
CALAMINE_READ = """
import sys, time
start, cpu = time.perf_counter(), time.process_time()
import python_calamine
book = python_calamine.CalamineWorkbook.from_path(sys.argv[1])
for _row in book.get_sheet_by_index(0).iter_rows():
    pass
print(time.perf_counter() - start, time.process_time() - cpu)
"""
# --floor: what the pipeline cannot do without, each in a fresh process and timed inside it.
# The sheet's rows stored by the database alone: validated and staged before the clock, every
# value made ready to bind, then timed: the bulk insert Paydash uses (executemany on SQLite,
# COPY on PostgreSQL) into its salary_row (its indexes and keys), and the commit. A fresh
# SQLite file, or the tables made anew in FLOOR_DATABASE_URL. No conversion, no employee
# master, no chart sync: the least any commit of these rows costs.
INSERT_ONLY = """
import os, sys, tempfile, time
sys.path.insert(0, %r)
work = tempfile.mkdtemp(prefix="paydash-floor-")
os.environ["PAYDASH_INSTANCE"] = work
from app import create_app
from paydash import accounts
from paydash.extensions import db
from paydash.models import SalaryRow
from paydash.services import bulk_insert
from paydash.sheets import staging
from paydash.sheets.salary_sheet import read_salary_sheet
url = os.environ.get("FLOOR_DATABASE_URL") or f"sqlite:///{work}/floor.db"
app = create_app({"SECRET_KEY": "floor", "SQLALCHEMY_DATABASE_URI": url,
                  "HUEY_SQLITE_PATH": f"{work}/huey.db", "REDIS_URL": None})
stager = staging.RowStager("0" * 64, b"floor")
read_salary_sheet(open(sys.argv[1], "rb").read(), keep=stager.add)
blob = stager.blob()
with app.app_context():
    db.drop_all()
    db.create_all()
    tenant = accounts.create_tenant("Floor", "floor")
    db.session.commit()
    table = SalaryRow.__table__
    fixed = {"tenant_id": tenant.id, "year": 2025, "month": 1, "source": "excel"}
    connection = db.session.connection()
    plan = bulk_insert._plan(table, set(staging.COLUMNS) | set(fixed), connection.dialect)
    rows = []
    for columns in staging.decode_columns(blob, "0" * 64, b"floor", numbers_as_text=True):
        count = len(columns[staging.COLUMNS[0]])
        ready = []
        for name, default, process in plan:
            if name in staging.NUMBER_COLUMNS:
                values = bulk_insert._decimals_bound(columns[name], process)
            elif name in columns:
                values = [v if v is None or process is None else process(v) for v in columns[name]]
            else:
                value = fixed.get(name, default)
                values = [value if value is None or process is None else process(value)] * count
            ready.append(values)
        rows.extend(zip(*ready))
    start, cpu = time.perf_counter(), time.process_time()
    bulk_insert._write(connection, table, plan, rows)
    db.session.commit()
    print(time.perf_counter() - start, time.process_time() - cpu, len(rows))
""" % str(ROOT)
# The reader of a source tree (argv[1]) on one file, in a fresh process: hand-over or validation.
READER_RUN = r"""
import json, logging, re, sys, time
sys.path.insert(0, sys.argv[1])
child_peaks = []
class Peaks(logging.Handler):
    def emit(self, record):
        found = re.search(r"peak (\d+) MB", record.getMessage())
        if found:
            child_peaks.append(int(found.group(1)))
log = logging.getLogger("paydash.sheets.reader")
log.addHandler(Peaks())
log.setLevel(logging.INFO)
from paydash.sheets import reader
data = open(sys.argv[2], "rb").read()
if hasattr(reader, "Package"):   # as the import task does: a memory file, the bytes let go
    data = reader.Package(data)
start, cpu = time.perf_counter(), time.process_time()
if sys.argv[3] == "handover":
    workbook = reader.Workbook(data)
    rows = sum(1 for _ in workbook.rows(workbook.visible[0]))
else:
    from paydash.sheets.salary_sheet import read_salary_sheet
    from paydash.sheets.staging import RowStager
    report = read_salary_sheet(data, keep=RowStager("bench", b"bench").add)
    assert report.fatal is None, report.fatal
    rows = report.data_rows
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
import gc, resource
workbook = report = None
gc.collect()   # the reader's child is stopped (and waited for) when its workbook goes
used = resource.getrusage(resource.RUSAGE_CHILDREN)
child_cpu = used.ru_utime + used.ru_stime
peak = next(int(line.split()[1]) // 1024 for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
print(json.dumps({"s": seconds, "cpu": cpu, "child_cpu": child_cpu, "rows": rows, "parent_mb": peak,
                  "child_mb": max(child_peaks, default=0)}))
"""
# --floor's first column: Paydash's reader handing every row over (the reading child's
# guards and calamine, no conversion), READER_RUN's hand-over of this tree on the file.
HANDOVER_READ = f"import sys; sys.argv[1:] = [{str(ROOT)!r}, sys.argv[1], 'handover']\n" + READER_RUN
CALAMINE_PEAK_READ = CALAMINE_READ + """
print(next(int(line.split()[1]) // 1024 for line in open("/proc/self/status")
           if line.startswith("VmHWM:")))
"""


def reader_run(tree: pathlib.Path, path: pathlib.Path, mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", READER_RUN, str(tree), str(path), mode],
                          capture_output=True, text=True, timeout=3600)
    if done.returncode:
        raise SystemExit(f"reader run failed ({tree}, {mode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def calamine_run(path: pathlib.Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CALAMINE_PEAK_READ, str(path)],
                          capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise SystemExit(f"calamine failed: {done.stderr[-2000:]}")
    seconds, cpu, peak = done.stdout.split()
    return {"s": float(seconds), "parent_mb": int(peak), "child_mb": 0, "cpu": float(cpu),
            "child_cpu": 0.0}


def rows_vs_peak(sizes: list[int], runs: int, before: pathlib.Path | None, validate: bool) -> None:
    trees = {"after": ROOT, **({"before": before} if before else {})}
    print(f"rows vs peak {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; trees: "
          + ", ".join(f"{name} {tree}" for name, tree in trees.items()))
    print(f"{'rows':>8} {'file MB':>8} {'what':<21} {'runs':>4} {'median s':>9} {'÷ calamine':>10} "
          f"{'CPU s':>6} {'(child)':>7} {'CPU ÷ cal.':>10} {'parent MB':>9} {'child MB':>8} "
          f"{'sum MB':>7}  rounds s", flush=True)
    for rows in sizes:
        path = WORK / f"template-{rows}.xlsx"
        sheet_builders.write_template_xlsx(path, rows)
        steps = ["calamine", *(f"{name} hand-over" for name in trees)]
        results: dict[str, list[dict]] = {step: [] for step in steps}
        for run in range(runs):
            for step in steps[run % len(steps):] + steps[:run % len(steps)]:
                if step == "calamine":
                    results[step].append(calamine_run(path))
                else:
                    results[step].append(reader_run(trees[step.split()[0]], path, "handover"))
        if validate:   # validation takes minutes at 500,000 rows: once each
            for name, tree in trees.items():
                results[f"{name} validate+stage"] = [reader_run(tree, path, "validate")]
        bare = statistics.median(r["s"] for r in results["calamine"])
        bare_cpu = statistics.median(r["cpu"] for r in results["calamine"])
        for step, found in results.items():
            median = statistics.median(r["s"] for r in found)
            # CPU: the process's own and its reading child's, so a loaded machine's waiting
            # does not count; the figure to compare with calamine's bare read.
            cpu = statistics.median(r["cpu"] + r["child_cpu"] for r in found)
            child_cpu = statistics.median(r["child_cpu"] for r in found)
            parent = max(r["parent_mb"] for r in found)
            child = max(r["child_mb"] for r in found)
            print(f"{rows:>8,} {path.stat().st_size / 1048576:>8.1f} {step:<21} {len(found):>4} "
                  f"{median:>9.2f} {median / bare:>10.2f} {cpu:>6.2f} {child_cpu:>7.2f} "
                  f"{cpu / bare_cpu:>10.2f} {parent:>9} {child:>8} {parent + child:>7}  "
                  f"{[round(r['s'], 2) for r in found]}", flush=True)
        print(f"         load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


def plain_openpyxl_python() -> str | None:
    """The venv with openpyxl and no defusedxml (made once with pip), or None with a message."""
    python = PLAIN_VENV / "bin" / "python"
    if not python.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(PLAIN_VENV)], check=True,
                           capture_output=True, timeout=300)
            subprocess.run([str(python), "-m", "pip", "install", "-q", f"openpyxl=={OPENPYXL_VERSION}"],
                           check=True, capture_output=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"plain openpyxl column skipped: could not make {PLAIN_VENV} ({exc})")
            shutil.rmtree(PLAIN_VENV, ignore_errors=True)
            return None
    check = subprocess.run([str(python), "-c", "import openpyxl, importlib.util; "
                            "print(openpyxl.__version__, importlib.util.find_spec('defusedxml') is None)"],
                           capture_output=True, text=True)
    if check.returncode or check.stdout.split() != [OPENPYXL_VERSION, "True"]:
        print(f"plain openpyxl column skipped: {PLAIN_VENV} is not openpyxl {OPENPYXL_VERSION} "
              f"without defusedxml ({check.stdout.strip() or check.stderr.strip()[-200:]})")
        return None
    return str(python)


def timed_read(python: str, script: str, path: pathlib.Path) -> tuple[float, float]:
    """(wall s, CPU s) of one read, both measured inside the reading process.

    The script's last line (after any log) holds them: "wall cpu", or READER_RUN's JSON,
    whose CPU is the process's and its reading child's."""
    done = subprocess.run([python, "-c", script, str(path)], capture_output=True, text=True,
                          timeout=1800)
    if done.returncode:
        raise SystemExit(f"reader failed: {done.stderr[-2000:]}")
    last = done.stdout.splitlines()[-1]
    if last.startswith("{"):
        found = json.loads(last)
        return found["s"], found["cpu"] + found["child_cpu"]
    wall, cpu = last.split()[:2]
    return float(wall), float(cpu)


def cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and of its children it has waited for (/proc/PID/stat)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def make_app(label: str, url: str | None = None):
    from app import create_app  # noqa: PLC0415  (after PAYDASH_INSTANCE is set)
    config = {"SECRET_KEY": "bench",
              "SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{WORK / label}.db",
              "HUEY_SQLITE_PATH": str(WORK / f"{label}-huey.db"), "REDIS_URL": None,
              "HUEY_NAME": f"paydash_bench_{uuid.uuid4().hex[:8]}",
              # The 100,000-row file is ~13 MB and the 500,000-row one ~65 MB, past the
              # default 10 MB upload limit.
              "MAX_CONTENT_LENGTH": 512 * 1024 * 1024}
    app = create_app(config)
    # The receive and confirm run in this process: their log lines would break up the table.
    logging.getLogger("paydash").setLevel(logging.WARNING)
    with app.app_context():
        db.create_all()
        tenant = accounts.create_tenant("Bench Traders", "bench")
        user = accounts.create_user("hr@bench.test", "bench-password-1", tenant=tenant)
        db.session.commit()
        return app, tenant.id, user.id


def start_consumer(app, log_path: pathlib.Path) -> subprocess.Popen:
    env = dict(os.environ, SECRET_KEY="bench", DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               HUEY_SQLITE_PATH=app.config["HUEY_SQLITE_PATH"], HUEY_NAME=app.config["HUEY_NAME"],
               PYTHONPATH=str(ROOT), WORKERS="2", WORKER_TYPE="thread")
    # The Procfile's worker command line.
    cmd = [sys.executable, "-m", "huey.bin.huey_consumer", "huey_app.huey", "--workers", "2",
           "--worker-type", "thread", "--delay", "0.05", "--max-delay", "0.1", "--backoff", "1.2",
           "--graceful-signal", "TERM", "--shutdown-timeout", "20"]
    log = open(log_path, "ab")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    time.sleep(3)  # started and idle, as a worker waiting for HR would be
    return proc


def stop_consumer(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def peak_rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_for(app, predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            value = predicate()
            db.session.remove()
        if value:
            return value
        time.sleep(POLL)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def pipeline_run(app, tenant_id: int, user_id: int, data: bytes, month: int,
                 consumer: subprocess.Popen) -> dict:
    """One upload through receive → preview → confirm → commit → chart sync; seconds per stage.

    Also its CPU seconds: the consumer's (with its reading child) and this process's own
    in receive and confirm, not its polling. On a machine whose speed changes from one
    minute to the next, CPU is the steadier figure to compare.
    """
    consumer_cpu = cpu_seconds(consumer.pid)
    start, own_cpu = time.perf_counter(), time.process_time()
    with app.app_context():
        upload_id = imports.receive_upload(tenant_id, user_id, "bench.xlsx", data, 2025, month).id
    received, own_cpu = time.perf_counter(), time.process_time() - own_cpu

    def previewed():
        status = db.session.scalar(sa.select(Upload.status).where(Upload.id == upload_id))
        if status in (UploadStatus.REJECTED.value, UploadStatus.FAILED.value):
            raise SystemExit(f"upload {upload_id} ended {status}")
        return status == UploadStatus.PREVIEW.value

    wait_for(app, previewed, 600, "the preview")
    preview_at, confirm_cpu = time.perf_counter(), time.process_time()
    with app.app_context():
        imports.confirm_upload(upload_id, tenant_id, user_id, keep_duplicates=True)
    own_cpu += time.process_time() - confirm_cpu

    def synced():
        job = db.session.scalars(sa.select(Job).where(
            Job.task_name == "sync_chart_data_batch", Job.tenant_id == tenant_id,
            Job.year == 2025, Job.month == month)).first()
        if job is not None and job.state == "FAILURE":
            raise SystemExit(f"chart sync failed: {job.error}")
        return job is not None and job.state == "SUCCESS"

    wait_for(app, synced, 600, "the chart sync")
    done = time.perf_counter()
    return {"total": done - start, "receive": received - start,
            "validate": preview_at - received, "commit_sync": done - preview_at,
            "cpu": own_cpu + cpu_seconds(consumer.pid) - consumer_cpu}


def reader_peak_mb(log_path: pathlib.Path) -> float:
    """The largest peak the sheet reader's child processes logged, in MB (0 if none ran)."""
    peaks = [int(m.group(1)) for m in READER_PEAK.finditer(log_path.read_text(errors="replace"))]
    return float(max(peaks, default=0))


def measure(rows: int, runs: int, readers: dict[str, str], database: str) -> dict:
    path = WORK / f"template-{rows}.xlsx"
    sheet_builders.write_template_xlsx(path, rows)
    data = path.read_bytes()
    url, drop = (environment.scratch_database("paydash_importbench")
                 if database == "postgresql" else (None, lambda: None))
    try:
        return _measure(rows, runs, readers, path, data, url)
    finally:
        drop()


def _measure(rows: int, runs: int, readers: dict[str, str], path: pathlib.Path, data: bytes,
             url: str | None) -> dict:
    app, tenant_id, user_id = make_app(f"bench{rows}", url)
    log_path = WORK / f"consumer-{rows}.log"
    consumer = start_consumer(app, log_path)
    times: dict[str, list[float]] = {name: [] for name in readers}
    cpus: dict[str, list[float]] = {name: [] for name in readers}
    ours = []
    try:
        for run in range(runs):
            # Interleaved, and the order turns each round, so a slow spell hits every column.
            steps = [*readers, "pipeline"]
            for name in steps[run % len(steps):] + steps[:run % len(steps)]:
                if name == "pipeline":
                    ours.append(pipeline_run(app, tenant_id, user_id, data, 1 + run % 12,
                                             consumer))
                else:
                    python, script = readers[name]
                    wall, cpu = timed_read(python, script, path)
                    times[name].append(wall)
                    cpus[name].append(cpu)
        rss = peak_rss_mb(consumer.pid)
    finally:
        stop_consumer(consumer)
    median = {key: statistics.median(r[key] for r in ours) for key in ours[0]}
    return {"rows": rows, "mb": len(data) / 1048576, "runs": runs, "pipeline": median,
            "readers": {name: statistics.median(values) for name, values in times.items()},
            "reader_cpu": {name: statistics.median(values) for name, values in cpus.items()},
            "rss": rss, "child_rss": reader_peak_mb(log_path),
            "rounds": {"pipeline": [round(r["total"], 2) for r in ours],
                       **{name: [round(v, 2) for v in values] for name, values in times.items()},
                       "pipeline CPU": [round(r["cpu"], 2) for r in ours],
                       **{f"{name} CPU": [round(v, 2) for v in values]
                          for name, values in cpus.items()}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=3, help="rounds per size below 100,000 rows")
    parser.add_argument("--big-runs", type=int, default=3, help="rounds at 100,000 rows and more")
    parser.add_argument("--slowed-anchor", action="store_true",
                        help="also time openpyxl in Paydash's venv (with defusedxml), the old anchor")
    parser.add_argument("--rows-vs-peak", metavar="SIZES",
                        help="measure the sheet reader alone at these sizes (see above)")
    parser.add_argument("--before", type=pathlib.Path,
                        help="with --rows-vs-peak: an older source tree to measure side by side")
    parser.add_argument("--no-validate", action="store_true",
                        help="with --rows-vs-peak: the hand-over only, no validation run")
    parser.add_argument("--floor", action="store_true",
                        help="also time, in the same rounds, what the pipeline cannot do "
                             "without: Paydash's reader handing every row over, and the rows' "
                             "bare insert on the pipeline's database; and print that floor against "
                             "the target")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="the app's database for the pipeline: an SQLite file, or a database "
                             "made for the run next to BENCH_DATABASE_URL and dropped after it "
                             "(the queue stays on SQLite either way)")
    args = parser.parse_args()
    if args.rows_vs_peak:
        rows_vs_peak([int(n) for n in args.rows_vs_peak.split(",")], args.runs, args.before,
                     not args.no_validate)
        return
    readers = {}
    plain = plain_openpyxl_python()
    if plain:
        readers["openpyxl"] = (plain, OPENPYXL_READ)
    readers["calamine"] = (sys.executable, CALAMINE_READ)
    if args.slowed_anchor:
        readers["openpyxl+defusedxml"] = (sys.executable, OPENPYXL_READ)
    drop_floor = None
    if args.floor:
        readers["hand-over"] = (sys.executable, HANDOVER_READ)
        readers["insert"] = (sys.executable, INSERT_ONLY)
        if args.database == "postgresql":
            url, drop_floor = environment.scratch_database("paydash_importfloor")
            os.environ["FLOOR_DATABASE_URL"] = url   # read by INSERT_ONLY's processes
    try:
        run(args, readers)
    finally:
        if drop_floor is not None:
            drop_floor()


def run(args, readers: dict) -> None:
    sizes = [int(n) for n in args.sizes.split(",")]
    if max(sizes) > 100_000:
        # Past ~120,000 template rows the sheet inflates beyond the upload check's 100 MB cap;
        # raised here (in the process that receives) only, to measure how memory grows.
        filecheck.MAX_INFLATED = 1024 * 1024 * 1024
    print(f"import_bench {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"app database {args.database}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    head = "".join(f"{name + ' s':>23}" for name in readers)
    print(f"{'rows':>8} {'file MB':>8} {'runs':>4}{head} {'pipeline s':>11} "
          + "".join(f"{'÷ ' + name:>23}" for name in readers)
          + f" {'receive':>8} {'validate':>9} {'commit+sync':>12} {'consumer MB':>12} "
          f"{'reader child MB':>16} {'sum MB':>7}")
    for rows in sizes:
        result = measure(rows, args.big_runs if rows >= 100_000 else args.runs, readers,
                         args.database)
        stage, anchors = result["pipeline"], result["readers"]
        print(f"{rows:>8,} {result['mb']:>8.1f} {result['runs']:>4}"
              + "".join(f"{anchors[name]:>23.2f}" for name in readers)
              + f" {stage['total']:>11.2f}"
              + "".join(f"{stage['total'] / anchors[name]:>23.2f}" for name in readers)
              + f" {stage['receive']:>8.2f} {stage['validate']:>9.2f} {stage['commit_sync']:>12.2f} "
              f"{result['rss']:>12.0f} {result['child_rss']:>16.0f} "
              f"{result['rss'] + result['child_rss']:>7.0f}", flush=True)
        cpu, anchor_cpu = stage["cpu"], result["reader_cpu"]
        print(f"         CPU s: pipeline {cpu:.2f}"
              + "".join(f", {name} {anchor_cpu[name]:.2f}" for name in readers)
              + "".join(f"; pipeline ÷ {name} {cpu / anchor_cpu[name]:.2f}" for name in readers),
              flush=True)
        print(f"         rounds: {result['rounds']}", flush=True)
        if args.floor and "openpyxl" in anchors:
            floor = anchors["hand-over"] + anchors["insert"]
            target = 0.25 * anchors["openpyxl"]
            print(f"         floor: hand-over + insert {floor:.2f} s = {floor / anchors['openpyxl']:.2f}"
                  f" x openpyxl; the target (0.25 x openpyxl) {target:.2f} s leaves "
                  f"{target - floor:.2f} s for conversion, checks, staging, employee master, "
                  f"terms, chart sync and the jobs' hand-offs, which take "
                  f"{stage['total'] - floor:.2f} s now", flush=True)
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"work files in {WORK}")


if __name__ == "__main__":
    main()
