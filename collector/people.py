"""People as reports name them: a user's display name (real name, any script) and role;
what a login name and a new password must be."""

from __future__ import annotations

import unicodedata

from .errors import CollectorError

DISPLAY_NAME_MAX = 64
# control, format (bidi overrides, zero-width), line/paragraph separators, surrogates,
# private use, unassigned: nothing a reader could not see or that would reorder the line
REFUSED_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


class DisplayNameError(CollectorError):
    """A display name that cannot be printed on a report as it is."""


def clean_display_name(text: str | None) -> str | None:
    """A person's real name as reports print it: any script, NFC, at most 64 characters,
    no control or invisible formatting characters, runs of spaces made one; blank → None."""
    if text is None:
        return None
    name = unicodedata.normalize("NFC", str(text)).strip()
    bad = sorted({f"U+{ord(c):04X}" for c in name
                  if unicodedata.category(c) in REFUSED_CATEGORIES})
    if bad:
        msg = ("a display name may not hold control or invisible characters "
               f"({', '.join(bad[:5])})")
        raise DisplayNameError(msg)
    name = " ".join(name.split())
    if len(name) > DISPLAY_NAME_MAX:
        msg = f"a display name is at most {DISPLAY_NAME_MAX} characters ({len(name)} given)"
        raise DisplayNameError(msg)
    return name or None


USER_NAME_MAX = 64
USER_NAME_MARKS = frozenset("_.@-")
PASSWORD_MIN = 12
PASSWORD_MAX = 1024  # what the sign-in form reads


def clean_user_name(text: str | None) -> str | None:
    """A login name in any script (张伟, ivan.petrov, o'neill is not): NFC, 1 to 64 letters,
    digits, combining marks or ``_.@-``; None when it is not one."""
    name = unicodedata.normalize("NFC", str(text or "")).strip()
    if not 1 <= len(name) <= USER_NAME_MAX:
        return None
    ok = all(c in USER_NAME_MARKS or unicodedata.category(c)[0] in "LNM" for c in name)
    return name if ok else None


def password_acceptable(password: str) -> bool:
    """A new password: 12 to 1,024 characters (length is what resists guessing)."""
    return PASSWORD_MIN <= len(password) <= PASSWORD_MAX
