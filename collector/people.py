"""People as reports name them: a user's display name (real name, any script) and role."""

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
