"""Steps the browser tests share: signing in through the real form, uploading a sheet."""
from conftest import PASSWORD


def sign_in(page, base: str, email: str = "hr@acme.test", password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.click('button:has-text("Sign in")')


def upload_sheet(page, base: str, path, month: int, year: int) -> None:
    """Choose the month and the file on the upload page and send it to be checked."""
    page.goto(f"{base}/uploads")
    page.select_option('select[name="month"]', str(month))
    page.select_option('select[name="year"]', str(year))
    page.set_input_files('input[name="file"]', str(path))
    page.click('button:has-text("Upload and check")')


def live_site(tmp_path, sqlite_url, start_consumer, serve_app):
    """(app, base URL): the app on its own SQLite file and queue, the two test tenants'
    people, a real consumer running, served on a free port."""
    from conftest import People  # noqa: PLC0415
    from conftest import base_config  # noqa: PLC0415
    from conftest import make_app  # noqa: PLC0415
    app = make_app(base_config(tmp_path, sqlite_url))
    People(app)
    start_consumer(app, workers=2)
    return app, serve_app(app)
