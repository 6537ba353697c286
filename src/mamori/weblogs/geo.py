"""Visitors' countries from a local database in MaxMind's format (MNT-06), when one is
configured (``MAMORI_GEOIP_DATABASE``): MaxMind's GeoLite2-Country or GeoIP2-Country, DB-IP's
IP-to-Country Lite, or any country or city database of that format. Nothing is looked up on the
network; the file is read where it is, and a new copy (``geoipupdate`` replaces it in place) is
opened on the next lookup after it changed.

A visitor's country is looked up once, when the visitor is first counted for a day; only the
country's ISO 3166 code is kept (``--`` when the database has none for the address), never the
address. Names are shown in the reader's language (:func:`country_name`).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

import maxminddb
from babel import Locale, UnknownLocaleError
from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)

UNKNOWN = "--"


class GeoError(Exception):
    """The configured database cannot be read, with a message for the operator."""


@dataclass
class Countries:
    """Address → ISO 3166-1 alpha-2 code (upper case), or :data:`UNKNOWN`."""

    reader: maxminddb.Reader
    identity: tuple[int, int, int]

    def __call__(self, ip: bytes | str) -> str:
        text = ip.decode("ascii", "replace") if isinstance(ip, bytes) else ip
        try:
            record = self.reader.get(text)
        except ValueError:  # not an address (a log can hold anything in that field)
            return UNKNOWN
        if not isinstance(record, dict):
            return UNKNOWN
        for place in ("country", "registered_country"):
            found = record.get(place)
            code = found.get("iso_code") if isinstance(found, dict) else None
            if isinstance(code, str) and len(code) == 2 and code.isalpha():
                return code.upper()
        return UNKNOWN


_lock = threading.Lock()
_open: Countries | None = None
_logged: set[str] = set()


def _identity(path: str) -> tuple[int, int, int]:
    stat = os.stat(path)
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def countries() -> Countries | None:
    """The configured database, opened (again if the file changed); None if none is
    configured. Raises :class:`GeoError` if it cannot be read."""
    global _open
    path = settings.MAMORI_GEOIP_DATABASE
    if not path:
        return None
    try:
        identity = _identity(path)
    except OSError as e:
        raise GeoError(
            _("The country database %(path)s cannot be read: %(reason)s")
            % {"path": path, "reason": e.strerror}
        ) from None
    with _lock:
        if _open is not None and _open.identity == identity:
            return _open
        try:
            reader = maxminddb.open_database(path, maxminddb.MODE_MMAP)
        except (ValueError, maxminddb.InvalidDatabaseError):
            raise GeoError(
                _("The country database %(path)s cannot be read: %(reason)s")
                % {"path": path, "reason": _("it is not a database in MaxMind's format")}
            ) from None
        except OSError as e:
            raise GeoError(
                _("The country database %(path)s cannot be read: %(reason)s")
                % {"path": path, "reason": e.strerror or type(e).__name__}
            ) from None
        if _open is not None:
            _open.reader.close()
        _open = Countries(reader, identity)
        return _open


def countries_or_none() -> Countries | None:
    """:func:`countries`, or None (logged once per message) when the database cannot be read:
    visitors are still counted, without their countries."""
    try:
        return countries()
    except GeoError as e:
        message = str(e)
        if message not in _logged:
            _logged.add(message)
            log.warning("%s; visitors are counted without countries", message)
        return None


def country_name(code: str, language: str | None = None) -> str:
    """``JP`` → 日本 / Japan in ``language`` (the active one by default)."""
    if code == UNKNOWN:
        return _("Unknown")
    try:
        locale = Locale.parse((language or get_language() or "en").replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        locale = Locale("en")
    return locale.territories.get(code, code)
