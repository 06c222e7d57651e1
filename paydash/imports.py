"""Salary sheet imports: receive, validate into a preview, commit (being written: issue 2)."""


def validate_upload(upload_id: int, tenant_id: int) -> dict:
    raise NotImplementedError


def commit_upload(upload_id: int, tenant_id: int) -> dict:
    raise NotImplementedError
