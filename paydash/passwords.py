"""Password rules: length over complexity, no common passwords, and the hash parameters in use.

Following NIST SP 800-63B: at least MIN_LENGTH characters of any kind (spaces and any
script welcome), no rules about digits or symbols, and a refusal of passwords people
choose most often (paydash/data/common-passwords.txt).
"""
import functools
import pathlib
import re
import unicodedata

MIN_LENGTH = 10
MAX_LENGTH = 256
# werkzeug's scrypt with these parameters (N, r, p). A stored hash made with other
# parameters is replaced at the user's next successful sign-in.
HASH_METHOD = "scrypt:32768:8:1"
COMMON_LIST = pathlib.Path(__file__).resolve().parent / "data" / "common-passwords.txt"
_TRAILING = re.compile(r"[\W\d_]+$")
_LEET = str.maketrans("@4310$5!7", "aaeiossit")


class PasswordRejected(ValueError):
    """The password breaks a rule; the text says which, in plain words."""


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def is_common(password: str, *, also: tuple[str, ...] = ()) -> bool:
    """Whether the password is a common one, allowing for case, repeats, leet and trailing digits."""
    folded = unicodedata.normalize("NFKC", password).casefold().strip()
    candidates = {folded, _TRAILING.sub("", folded), folded.translate(_LEET),
                  _TRAILING.sub("", folded).translate(_LEET)}
    words = common_passwords() | {a.casefold() for a in also if a}
    for candidate in candidates:
        if not candidate or candidate in words or len(set(candidate)) <= 2:
            return True
        # "password2026password2026", "qwertyqwerty": a common word repeated.
        for size in range(1, len(candidate) // 2 + 1):
            if len(candidate) % size == 0 and candidate[:size] * (len(candidate) // size) == candidate:
                return candidate[:size] in words or size <= 3
    return False


def check(password: str, *, email: str = "") -> None:
    """Raise PasswordRejected when `password` may not be used (by the person with `email`)."""
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"Use at least {MIN_LENGTH} characters. A few words with spaces "
                               "between them make a password that is long and easy to remember.")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"Use at most {MAX_LENGTH} characters.")
    local = email.split("@")[0] if email else ""
    if is_common(password, also=(local, email)):
        raise PasswordRejected("That password is one of the most common ones (or your email), "
                               "so it is among the first anyone would try. Choose another.")


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than HASH_METHOD."""
    return not password_hash.startswith(HASH_METHOD + "$")
