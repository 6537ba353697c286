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

    if args and args[0] == "demo":
        _use_demo_data_dir()

    try:
        import django
        from django.core.management import execute_from_command_line

        django.setup()
    except ConfigError as e:
        print(f"mamori: configuration error: {e}", file=sys.stderr)
        return 2
    execute_from_command_line(["mamori", *args])
    return 0


def _use_demo_data_dir() -> None:
    """The demo runs on a fresh database of its own under the data directory, whatever
    ``MAMORI_DATABASE_URL`` says, so it can neither read nor damage real data."""
    import shutil

    from mamori.conf import data_dir

    demo = data_dir() / "demo"
    shutil.rmtree(demo, ignore_errors=True)
    demo.mkdir(parents=True)
    os.environ["MAMORI_DATA_DIR"] = str(demo)
    os.environ["MAMORI_DATABASE_URL"] = f"sqlite:///{demo / 'mamori.sqlite3'}"
    os.environ["MAMORI_KEYSTORE_URL"] = f"sqlite:///{demo / 'keystore.sqlite3'}"
    for name in ("MAMORI_MASTER_KEY", "MAMORI_MASTER_KEY_FILE", "MAMORI_KEYSTORE_URL_FILE"):
        os.environ.pop(name, None)


if __name__ == "__main__":
    sys.exit(main())
