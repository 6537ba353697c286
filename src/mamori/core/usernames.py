"""One form of a user name: ``ｔｈｒ１``, ``THR1`` and ``thr1`` are the same name.

A user name is Unicode NFKC-normalised (full-width letters and digits become half-width,
compatibility characters their plain form) and then case-folded. Accounts are created under this
form, found by it at sign-in and on the command line, and sign-in failures are counted under it,
so one name has one account and one failure counter however it is typed (docs/access.md).
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 150  # User.username
# Normalising is slow on very long input (a denial-of-service vector, as Django notes in its
# UsernameField); nothing much longer than the limit can name an account anyway.
_MAX_INPUT = 4 * MAX_LENGTH


def canonical(username: str) -> str:
    """The one form of ``username``: NFKC, case-folded (and NFKC again, since case folding can
    undo it, as Unicode's NFKC_Casefold does), without surrounding spaces."""
    text = unicodedata.normalize("NFKC", username[:_MAX_INPUT].strip())
    return unicodedata.normalize("NFKC", text.casefold()).strip()
