"""Two-step sign-in: time-based one-time codes (RFC 6238, via pyotp) and recovery codes.

The secret is kept as base32 text on the user; recovery codes only as sha256 hashes, and
each works once. Tenant admins and operators must use two-step sign-in (REQUIRED_ROLES);
HR may, and must when their tenant admin requires it for the tenant.
"""
import hashlib
import hmac
import io
import secrets
import time
import unicodedata

import pyotp
import segno

from paydash import audit
from paydash.extensions import db
from paydash.models import Role
from paydash.models import Tenant
from paydash.models import User

REQUIRED_ROLES = (Role.TENANT_ADMIN.value, Role.OPERATOR.value, Role.READONLY_OPERATOR.value)
ISSUER = "Paydash"
RECOVERY_CODES = 10


def has_two_step(user) -> bool:
    return bool(getattr(user, "totp_secret", None))


def must_use_two_step(user: User) -> bool:
    """Whether the user's role or their tenant requires a second step."""
    if user.role in REQUIRED_ROLES:
        return True
    tenant = db.session.get(Tenant, user.tenant_id) if user.tenant_id else None
    return bool(tenant and tenant.require_two_step)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG markup (no image request, nothing from a CDN)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, xmldecl=False, svgns=True,
                                     title="QR code for your authenticator app")
    return buffer.getvalue().decode()


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The 30 s time step whose code `code` is, allowing one step of clock drift either way."""
    # Any script's decimal digits, as ASCII: a phone keyboard may type full-width "１２３".
    # Not str.isdigit, which takes "²" too; and compare_digest refuses non-ASCII text.
    digits = "".join(str(unicodedata.decimal(ch)) for ch in code if ch.isdecimal())
    if len(digits) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    for drift in (0, -1, 1):
        moment = now + drift * totp.interval
        if hmac.compare_digest(totp.at(moment), digits):
            return totp.timecode(moment)
    return None


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").lower().encode()).hexdigest()


def enable(user: User, secret: str, code: str, *, ip: str | None) -> list[str] | None:
    """Turn two-step on when `code` proves the app holds `secret`; returns recovery codes once."""
    step = matching_step(secret, code)
    if step is None:
        return None
    user.totp_last_step = step
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    user.totp_secret = secret
    user.recovery_codes = [_hash_code(c) for c in codes]
    audit.record("two_step_enabled", user_id=user.id, tenant_id=user.tenant_id,
                 target=user.email, ip=ip)
    return codes


def disable(user: User, *, actor_id: int, ip: str | None) -> None:
    user.totp_secret = None
    user.totp_last_step = None
    user.recovery_codes = None
    audit.record("two_step_disabled", user_id=actor_id, tenant_id=user.tenant_id,
                 target=user.email, ip=ip)


def verify_sign_in(user_id: int, code: str, *, ip: str | None) -> bool:
    """Whether `code` is the user's current one-time code or an unused recovery code (used up)."""
    user = db.session.get(User, user_id)
    if user is None or not user.totp_secret:
        return False
    step = matching_step(user.totp_secret, code)
    if step is not None:
        # A code seen once (typed, or read over someone's shoulder) never works again.
        if user.totp_last_step is not None and step <= user.totp_last_step:
            return False
        user.totp_last_step = step
        return True
    digest = _hash_code(code)
    remaining = list(user.recovery_codes or [])
    for stored in remaining:
        if hmac.compare_digest(stored, digest):
            remaining.remove(stored)
            user.recovery_codes = remaining
            audit.record("recovery_code_used", user_id=user.id, tenant_id=user.tenant_id,
                         target=user.email, ip=ip, detail={"left": len(remaining)})
            return True
    return False
