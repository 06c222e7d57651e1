"""Screenshots of every page, as every demo login, on a phone and a laptop: docs/gallery/.

    python3 manage.py gallery            # or: .venv/bin/python tools/gallery.py [--out DIR]

Builds the app on a throw-away SQLite database with the demo tenant (the same data as
`manage.py start`), serves it from a thread, finds every HTML page in the URL map that a
login may open, and saves a 360 px and a 1280 px screenshot of each with Debian's Chromium
(Playwright). `docs/gallery/README.md` lists them, so anyone can see the product without
running it. Run it again after changing a page.
"""
import argparse
import pathlib
import re
import sys
import tempfile
import threading
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
WIDTHS = {"phone": (360, 780), "laptop": (1280, 860)}
FIXED = {"task_name": "recover_lost_jobs", "action": "pause", "fmt": "csv", "format": "csv",
         "kind": "dept", "filename": "css/app.css"}


def build_app(folder: pathlib.Path):
    from paydash.extensions import db  # noqa: PLC0415
    from paydash.factory import create_app  # noqa: PLC0415
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'gallery.db'}",
                      "HUEY_SQLITE_PATH": str(folder / "huey.db"), "REDIS_URL": None,
                      "HUEY_NAME": f"gallery_{uuid.uuid4().hex[:8]}", "SECRET_KEY": "gallery",
                      # The page finder signs in with a plain test client; pages look the same.
                      "WTF_CSRF_ENABLED": False,
                      # Demo admins and operators would first be sent to enrol an authenticator
                      # app; the gallery shows the pages behind it.
                      "TWO_STEP_ENFORCED": False})
    with app.app_context():
        db.create_all()
    return app


def seed(app) -> dict:
    from paydash.services import demo  # noqa: PLC0415
    with app.app_context():
        return demo.seed_demo(employees=40, months=12)


def url_values(app) -> dict:
    """A value for each URL parameter: the demo tenant's own rows, the latest payroll month."""
    import sqlalchemy as sa  # noqa: PLC0415

    from paydash.extensions import db  # noqa: PLC0415
    from paydash.ledger.models import Job  # noqa: PLC0415
    from paydash.models import Employee  # noqa: PLC0415
    from paydash.models import PayrollMonth  # noqa: PLC0415
    from paydash.models import Upload  # noqa: PLC0415
    from paydash.models import User  # noqa: PLC0415
    with app.app_context():
        month = db.session.scalars(sa.select(PayrollMonth).order_by(
            PayrollMonth.year.desc(), PayrollMonth.month.desc())).first()
        retried = db.session.scalar(sa.select(Job.id).order_by(Job.attempts.desc(), Job.created_at.desc()))
        values = {"upload_id": db.session.scalar(sa.select(Upload.id).order_by(Upload.id.desc())),
                  "job_id": retried,
                  "employee_id": db.session.scalar(sa.select(Employee.id)),
                  "user_id": db.session.scalar(sa.select(User.id).where(User.tenant_id.is_not(None))),
                  "year": month.year if month else 2026, "month": month.month if month else 1}
    return {**FIXED, **values}


def pages_for(app, email: str, password: str, values: dict) -> list[tuple[str, str]]:
    """(name, url) of every GET page that answers this login with HTML."""
    client = app.test_client()
    client.post("/login", data={"email": email, "password": password})
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        if any(name not in values for name in rule.arguments):
            print(f"  skipped {rule.rule}: no value for {sorted(set(rule.arguments) - set(values))}")
            continue
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **{n: values[n] for n in rule.arguments})
        response = client.get(url, headers={"Accept": "text/html"})
        if response.status_code == 200 and response.mimetype == "text/html":
            found.append((rule.endpoint.replace(".", "-"), url))
    return found


def serve(app) -> str:
    from werkzeug.serving import make_server  # noqa: PLC0415
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def shoot(base: str, logins: list[dict], pages: dict, out: pathlib.Path) -> list[str]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415
    index = ["# Paydash, page by page", "",
             "Every page as each demo login sees it, on a 360 px phone and a 1280 px laptop. "
             "Regenerate with `python3 manage.py gallery`.", ""]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for login in logins:
            role = login["role"]
            context = browser.new_context(locale="en-IN", timezone_id="Asia/Kolkata")
            page = context.new_page()
            page.goto(f"{base}/login")
            page.fill("input[name=email]", login["email"])
            page.fill("input[name=password]", login["password"])
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            index += [f"## {role} ({login['email']})", "", "| page | phone | laptop |", "|---|---|---|"]
            folder = out / role
            folder.mkdir(parents=True, exist_ok=True)
            for name, url in pages[role]:
                cells = []
                for label, (width, height) in WIDTHS.items():
                    page.set_viewport_size({"width": width, "height": height})
                    page.goto(base + url)
                    page.wait_for_load_state("networkidle")
                    shot = folder / f"{name}-{label}.jpg"
                    page.screenshot(path=str(shot), type="jpeg", quality=60)
                    cells.append(f"[{label}]({role}/{shot.name})")
                index.append(f"| `{_readable(url)}` | {cells[0]} | {cells[1]} |")
            index.append("")
            context.close()
        browser.close()
    return index


def _readable(url: str) -> str:
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<job>", url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "gallery"))
    out = pathlib.Path(parser.parse_args().out)
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(pathlib.Path(tmp))
        info = seed(app)
        values = url_values(app)
        logins = info["logins"]
        pages = {login["role"]: pages_for(app, login["email"], login["password"], values) for login in logins}
        for old in out.glob("*/*.jpg"):
            old.unlink()
        index = shoot(serve(app), logins, pages, out)
    (out / "README.md").write_text("\n".join(index) + "\n")
    print(f"{sum(len(p) for p in pages.values()) * len(WIDTHS)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
