"""The ``mamori`` command.

``mamori scan`` needs no database and no configuration, so it runs without loading Django at
all; every other sub-command is a Django management command (``serve``, ``runchecks``,
``import``, ``export``, ``demo``, ``migrate`` ...).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "scan":
        from mamori.probe.scan_cli import main as scan_main

        return scan_main(args[1:])

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    from mamori.conf import ConfigError

    try:
        import django
        from django.core.management import execute_from_command_line

        django.setup()
    except ConfigError as e:
        print(f"mamori: configuration error: {e}", file=sys.stderr)
        return 2
    execute_from_command_line(["mamori", *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
