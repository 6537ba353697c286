"""Rules for tests that need real servers: under CI a missing server is a failure, not a skip."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_binary(name: str, *candidates: str) -> str:
    """Path of an executable, or fail (under CI) / skip (elsewhere) with a clear message."""
    for candidate in (name, *candidates):
        found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if found:
            return found
    message = f"{name} is not installed (the test command installs it: see README)"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
    raise AssertionError("unreachable")
