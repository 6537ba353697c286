"""Logging filters (settings.LOGGING)."""

from __future__ import annotations

import logging


class ClientErrorsOneLine(logging.Filter):
    """A request refused with a 4xx status is logged as one line, without a traceback.

    Django logs a ``PermissionDenied`` raised in a view with its traceback ("Forbidden
    (Permission denied): /path"), though a refusal is the permission check working, not a
    fault. A 500 keeps its traceback: that one is a fault to find.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
