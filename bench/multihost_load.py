"""HR's side of bench/multihost.py: a signed-in browser session over plain HTTP, the
sheets it uploads, and the effects it leaves, measured in the database.

Effects are counted by triggers installed in the run's private database: every
transaction that inserts a period's salary rows, and every transaction that bumps a
tenant's chart version (one per chart sync that committed), leaves one `bench_effect` row
per transaction. A job that commits its effect twice leaves two. Nothing here trusts
the ledger's word for it.
"""
import http.cookiejar
import io
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import sqlalchemy as sa
from openpyxl import Workbook

EFFECT_TRIGGERS = """
CREATE TABLE IF NOT EXISTS bench_effect (
    id bigserial PRIMARY KEY, kind text NOT NULL, tenant_id int, year int, month int,
    txid bigint NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE OR REPLACE FUNCTION bench_rows_effect() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_effect (kind, tenant_id, year, month, txid)
    SELECT DISTINCT 'rows', tenant_id, year, month, txid_current() FROM new_rows;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS bench_rows ON salary_row;
CREATE TRIGGER bench_rows AFTER INSERT ON salary_row REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bench_rows_effect();
CREATE OR REPLACE FUNCTION bench_sync_effect() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_effect (kind, tenant_id, txid) VALUES ('sync', NEW.tenant_id, txid_current());
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS bench_sync ON chart_version;
CREATE TRIGGER bench_sync AFTER INSERT OR UPDATE ON chart_version
    FOR EACH ROW EXECUTE FUNCTION bench_sync_effect();
"""

SYNC_TASK = "sync_chart_data_batch"
COMMIT_TASK = "commit_salary_sheet"
TERMINAL = ("SUCCESS", "FAILURE", "REVOKED")
RETRIES = 30


def salary_sheet(rows: int, seed: int) -> bytes:
    """A classic salary register with a banner row: the same employee codes every month."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Salary")
    ws.append([f"Salary register {seed}"])
    ws.append(["Emp Code", "Employee Name", "Department", "Gross", "TDS", "Net Pay"])
    for i in range(rows):
        gross = 20000 + (i * 37 + seed * 101) % 30000
        tds = round(gross * 0.05, 2)
        ws.append([f"E{i:05d}", f"Person {i}", ("Sales", "Plant", "Office")[i % 3],
                   gross, tds, round(gross - tds, 2)])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


class HRClient:
    """One HR user's browser: cookies, the CSRF token, the forms and JSON calls it sends."""

    def __init__(self, base: str, timeout: float = 60):
        self.base, self.timeout = base, timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = ""
        self.retried = 0  # Requests HR had to send again (503 in an outage, no answer).

    def _open(self, path: str, data: bytes | None = None, headers: dict | None = None,
              method: str | None = None) -> tuple[int, str, str]:
        """One request; a 502/503/504 or no answer is sent again, as HR presses again."""
        for attempt in range(RETRIES):
            request = urllib.request.Request(self.base + path, data=data, headers=headers or {},
                                             method=method)
            try:
                with self.opener.open(request, timeout=self.timeout) as response:
                    return (response.status, response.geturl(),
                            response.read().decode("utf-8", "replace"))
            except urllib.error.HTTPError as exc:
                answer = exc.code, exc.geturl(), exc.read().decode("utf-8", "replace")
                if exc.code not in (502, 503, 504):
                    return answer
            except OSError:
                answer = 0, self.base + path, ""
            self.retried += 1
            time.sleep(2)
        return answer

    def _token(self, page: str) -> None:
        found = (re.search(r'name="csrf-token" content="([^"]+)"', page)
                 or re.search(r'name="csrf_token" value="([^"]+)"', page))
        if found:
            self.csrf = found.group(1)

    def login(self, email: str, password: str) -> None:
        status, _, page = self._open("/login")
        self._token(page)
        form = urllib.parse.urlencode({"email": email, "password": password,
                                       "csrf_token": self.csrf}).encode()
        status, url, page = self._open("/login", form)
        if status != 200 or url.rstrip("/").endswith("/login"):
            raise RuntimeError(f"sign-in refused for {email}: {status}")
        self._token(page)

    def upload(self, year: int, month: int, content: bytes) -> int:
        """POST the upload form; returns the new upload's id (from the page it lands on)."""
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in (("csrf_token", self.csrf), ("year", str(year)), ("month", str(month))):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                         f"{value}\r\n".encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                     f'filename="salary-{year}-{month:02d}.xlsx"\r\nContent-Type: application/'
                     'vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n'.encode()
                     + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        status, url, page = self._open(
            "/uploads", b"".join(parts),
            {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        found = re.search(r"/uploads/(\d+)", url)
        if status != 200 or not found:
            raise RuntimeError(f"upload refused: {status} {url}")
        self._token(page)
        return int(found.group(1))

    def confirm(self, upload_id: int) -> int:
        form = urllib.parse.urlencode({"csrf_token": self.csrf}).encode()
        status, _, page = self._open(f"/uploads/{upload_id}/confirm", form)
        self._token(page)
        return status

    def save_month(self, year: int, month: int, inputs: dict | None = None) -> tuple[int, dict]:
        """The month sheet's Save button: JSON with the CSRF header, as static/js does."""
        body = json.dumps({"inputs": inputs or {}}).encode()
        status, _, text = self._open(f"/payroll/{year}/{month}/save", body,
                                     {"Content-Type": "application/json",
                                      "X-CSRFToken": self.csrf})
        try:
            return status, json.loads(text)
        except ValueError:
            return status, {}


def measure(engine: sa.Engine, tenants: list[int], expected_rows: int,
            row_transactions_expected: dict[tuple, int]) -> dict:
    """Jobs by state, duplicate and missing effects, and periods with the wrong row count.

    `row_transactions_expected` maps (tenant, year, month) to the number of committed row
    replacements HR caused there (confirmed uploads plus accepted browser saves).
    """
    with engine.connect() as conn:
        jobs = conn.execute(sa.text(
            "SELECT task_name, state, count(*), coalesce(sum(greatest(attempts - 1, 0)), 0) "
            "FROM job WHERE tenant_id = ANY(:t) GROUP BY task_name, state"),
            {"t": tenants}).all()
        rows_done = dict(((t, y, m), n) for t, y, m, n in conn.execute(sa.text(
            "SELECT tenant_id, year, month, count(DISTINCT txid) FROM bench_effect "
            "WHERE kind = 'rows' AND tenant_id = ANY(:t) GROUP BY 1, 2, 3"), {"t": tenants}))
        syncs_done = dict(conn.execute(sa.text(
            "SELECT tenant_id, count(DISTINCT txid) FROM bench_effect WHERE kind = 'sync' "
            "AND tenant_id = ANY(:t) GROUP BY 1"), {"t": tenants}).all())
        syncs_expected = dict(conn.execute(sa.text(
            "SELECT tenant_id, count(*) FROM job WHERE task_name = :s AND state = 'SUCCESS' "
            "AND tenant_id = ANY(:t) GROUP BY 1"), {"s": SYNC_TASK, "t": tenants}).all())
        counts = conn.execute(sa.text(
            "SELECT tenant_id, year, month, count(*) FROM salary_row WHERE tenant_id = ANY(:t) "
            "GROUP BY 1, 2, 3"), {"t": tenants}).all()
    states: dict[str, int] = {}
    extra_attempts = 0
    for _task, state, n, extra in jobs:
        states[state] = states.get(state, 0) + n
        extra_attempts += int(extra)
    duplicates = missing = 0
    for key in set(rows_done) | set(row_transactions_expected):
        diff = rows_done.get(key, 0) - row_transactions_expected.get(key, 0)
        duplicates, missing = duplicates + max(diff, 0), missing + max(-diff, 0)
    for tenant in set(syncs_done) | set(syncs_expected):
        diff = syncs_done.get(tenant, 0) - syncs_expected.get(tenant, 0)
        duplicates, missing = duplicates + max(diff, 0), missing + max(-diff, 0)
    wrong_counts = sum(1 for *_key, n in counts if n != expected_rows)
    wrong_counts += sum(1 for key in row_transactions_expected
                        if key not in {tuple(c[:3]) for c in counts})
    return {"states": states, "jobs": sum(states.values()), "duplicates": duplicates,
            "missing effects": missing, "wrong row counts": wrong_counts,
            "extra attempts": extra_attempts}
