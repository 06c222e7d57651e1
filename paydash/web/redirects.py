"""Where a sign-in may send the user next: only paths on this site, read the way a browser reads them."""
import re
import unicodedata
from urllib.parse import unquote
from urllib.parse import urlsplit

# Browsers drop tabs and newlines anywhere in a URL and trim C0 controls and spaces at its ends.
_DROPPED = re.compile(r"[\t\n\r]")
_MAX_LENGTH = 2000


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site (e.g. "/jobs?x=1"), else None.

    The value is judged as a browser would follow it: tabs and newlines removed, backslashes
    read as slashes, and percent-encoded or look-alike (full-width, NFKC) characters decoded
    first, so none of them can turn a path into another host.
    """
    if not target or len(target) > _MAX_LENGTH:
        return None
    cleaned = _DROPPED.sub("", target).strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c"
                                             "\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18"
                                             "\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
    if not _looks_like_a_local_path(cleaned):
        return None
    # Decoded twice: a proxy or a second redirect may decode once more on the way.
    decoded = unquote(unquote(cleaned))
    if not _looks_like_a_local_path(_DROPPED.sub("", decoded)):
        return None
    if not _looks_like_a_local_path(unicodedata.normalize("NFKC", decoded)):
        return None
    return cleaned


def _looks_like_a_local_path(value: str) -> bool:
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return False
    unified = value.replace("\\", "/")
    if not unified.startswith("/") or unified.startswith("//"):
        return False
    parts = urlsplit(unified)
    # A path has no scheme and no host, and "@" in it is only ever a trick (user@host).
    # Paydash's own paths are plain ASCII without spaces: anything else there is a look-alike.
    return (not parts.scheme and not parts.netloc and "@" not in parts.path
            and parts.path.isascii() and not any(ch.isspace() for ch in parts.path))
