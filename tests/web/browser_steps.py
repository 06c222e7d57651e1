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
