"""The words of each message: short, plain, with the link to what to do."""
from paydash.alerts.conditions import CONDITIONS
from paydash.alerts.recipients import tenant_of
from paydash.extensions import db
from paydash.models import AlertState
from paydash.models import Tenant


def scope_name(scope: str) -> str:
    tenant_id = tenant_of(scope)
    if tenant_id is None:
        return "Paydash (all tenants)"
    tenant = db.session.get(Tenant, tenant_id)
    return tenant.name if tenant is not None else f"Tenant {tenant_id}"


def url(cfg, path: str) -> str:
    return cfg["PUBLIC_BASE_URL"].rstrip("/") + path


# Subjects join their parts with an ASCII " - ": Python's email folding turns a non-ASCII dash
# into an encoded word and doubles the space before it.


def opened(state: AlertState, cfg) -> tuple[str, str]:
    condition = CONDITIONS[state.condition]
    subject = f"[Paydash] Problem: {condition.title} - {scope_name(state.scope)}"
    body = (f"{state.summary}.\n\nWhat to do: {condition.what_to_do}\n{url(cfg, state.link)}\n\n"
            "You get one message while this lasts and one when it is over. "
            f"Choose what you receive, or mute it: {url(cfg, '/alerts/settings')}")
    return subject, body


def cleared(state: AlertState, cfg) -> tuple[str, str]:
    condition = CONDITIONS[state.condition]
    minutes = max(1, int((state.cleared_at - state.opened_at).total_seconds() // 60))
    subject = f"[Paydash] All clear: {condition.title} - {scope_name(state.scope)}"
    body = (f"This is over: {state.summary[0].lower() + state.summary[1:]} "
            f"(open for {minutes} min; seen {state.occurrences} time(s)).\n{url(cfg, state.link)}")
    return subject, body


def digest(scope: str, quiet: list, still_open: list[AlertState], cfg) -> tuple[str, str]:
    """The daily summary: messages that were held back, and problems still open."""
    lines = [f"Daily alert digest for {scope_name(scope)}.", ""]
    if quiet:
        lines.append(f"Held back (muted or not chosen): {len(quiet)} message(s).")
        lines += [f"- {d.subject.removeprefix('[Paydash] ')}" for d in quiet[:50]]
        lines.append("")
    if still_open:
        lines.append("Still open:")
        lines += [f"- {CONDITIONS[s.condition].title}: {s.summary} — {url(cfg, s.link)}" for s in still_open]
        lines.append("")
    lines.append(f"Settings: {url(cfg, '/alerts/settings')}")
    return f"[Paydash] Daily alert digest - {scope_name(scope)}", "\n".join(lines)


def webhook_payload(subject: str, body: str, **extra) -> dict:
    """Slack-compatible: `text` is what Slack, Mattermost and most chat hooks show."""
    return {"text": f"*{subject}*\n{body}", "paydash": extra}
