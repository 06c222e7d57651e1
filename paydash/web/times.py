"""Times as the tenant reads them: in the tenant's own zone, labelled, relative when recent.

The database stores naive UTC (paydash/clock.py) and the JSON APIs answer ISO 8601 with an
offset; only pages turn a moment into words. Templates use one filter:

    {{ upload.created_at|when }}          4 Dec 2026, 5:35 am IST · 5 min ago
    {{ job.finished_at|when('date') }}    4 Dec 2026
    {{ t.next_run|when(relative=False) }} 6 Dec 2026, 2:00 am IST

It accepts a naive UTC datetime, an aware datetime, or an ISO 8601 string (with `Z`, an
offset, or none, which means UTC), and renders a `<time>` element whose `datetime` carries
the offset, so scripts and screen readers get the exact moment.
"""
import datetime as dt
import zoneinfo

from flask import current_app
from flask import g
from markupsafe import Markup
from markupsafe import escape

from paydash.clock import utcnow

DEFAULT_ZONE = "Asia/Kolkata"
RELATIVE_WITHIN = dt.timedelta(hours=24)


def valid_zone(name: str) -> bool:
    """True when `name` is an IANA zone this machine knows ("Asia/Kolkata")."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


def zone_names() -> list[str]:
    """Every IANA zone, the common ones for Paydash's users first."""
    first = ["Asia/Kolkata", "Asia/Dubai", "Asia/Singapore", "Europe/London", "UTC"]
    return first + sorted(zoneinfo.available_timezones() - set(first))


def moment(value) -> dt.datetime | None:
    """`value` as an aware UTC datetime; naive datetimes and offset-less strings are UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def zone_label(local: dt.datetime) -> str:
    """"IST"; zones without a letter abbreviation get "UTC+04" rather than a bare "+04"."""
    name = local.tzname() or ""
    if name[:1] in "+-":
        return f"UTC{name}"
    return name


def relative(when: dt.datetime, now: dt.datetime) -> str:
    """"just now", "5 min ago", "3 h ago", "in 12 min"; "" when further than a day away."""
    delta = now - when
    seconds = delta.total_seconds()
    if abs(delta) >= RELATIVE_WITHIN:
        return ""
    if abs(seconds) < 60:
        return "just now"
    amount = f"{int(abs(seconds) // 60)} min" if abs(seconds) < 3600 else f"{int(abs(seconds) // 3600)} h"
    return f"{amount} ago" if seconds > 0 else f"in {amount}"


def format_when(value, zone: str, now: dt.datetime | None = None, style: str = "full",
                relative_time: bool = True) -> Markup:
    """A `<time>` element for `value` in `zone` (see the module docstring); "—" when unknown."""
    instant = moment(value)
    if instant is None:
        return Markup("—")
    local = instant.astimezone(zoneinfo.ZoneInfo(zone))
    hour = local.strftime("%I").lstrip("0")
    date_text = f"{local.day} {local.strftime('%b %Y')}"
    text = date_text if style == "date" else (
        f"{date_text}, {hour}:{local.strftime('%M')} {local.strftime('%p').lower()} {zone_label(local)}")
    full = f"{date_text}, {hour}:{local.strftime('%M:%S')} {local.strftime('%p').lower()} {zone_label(local)}"
    if relative_time and style != "date":
        now = moment(now) if now is not None else moment(utcnow())
        ago = relative(instant, now)
        if ago:
            text += f" · {ago}"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        local.isoformat(timespec="seconds"), full, escape(text))


def display_zone() -> str:
    """The signed-in user's tenant zone; the configured default for operators and visitors."""
    if "display_zone" not in g:
        tenant = getattr(getattr(g, "user", None), "tenant", None)
        zone = getattr(tenant, "timezone", None) or current_app.config.get("DISPLAY_TIMEZONE")
        g.display_zone = zone if zone and valid_zone(zone) else DEFAULT_ZONE
    return g.display_zone


def when(value, style: str = "full", relative: bool = True) -> Markup:  # noqa: A002
    """The `when` template filter: `value` in the viewer's display zone."""
    return format_when(value, display_zone(), style=style, relative_time=relative)


def in_display_zone(text: str) -> str:
    """A datetime-local field's value ("2026-12-04T09:30"), typed in the viewer's zone, as ISO
    8601 with that zone's offset; text that already has an offset, or is no time, is kept."""
    try:
        value = dt.datetime.fromisoformat(text.strip()) if text else None
    except ValueError:
        return text
    if value is None or value.tzinfo is not None:
        return text
    return value.replace(tzinfo=zoneinfo.ZoneInfo(display_zone())).isoformat()


def init_app(app) -> None:
    """Register the `when` filter, `display_zone()` and `utcnow()` for templates."""
    app.add_template_filter(when, "when")
    app.add_template_global(display_zone, "display_zone")
    app.add_template_global(utcnow, "utcnow")
