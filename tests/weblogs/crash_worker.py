"""A worker for the kill test: ``python -m tests.weblogs.crash_worker MODE JSON`` against the
database in ``$MAMORI_DATA_DIR``. ``setup`` migrates and creates a site; ``import`` counts a
file (meant to be killed); ``figures`` prints the site's counts."""

from __future__ import annotations

import json
import os
import sys

import django


def main(mode: str, args: dict) -> dict:
    from mamori.inventory.models import Site
    from mamori.weblogs import services
    from mamori.weblogs.models import DayFigures, LogFile

    if mode == "setup":
        from django.core.management import call_command

        from mamori.clients.models import Client

        call_command("migrate", verbosity=0)
        call_command("migrate", database="keystore", verbosity=0)
        client = Client.objects.create(code="crash", name="Crash Test KK")
        site = Site.objects.create(client=client, name="big", url="https://big.example.jp/")
        return {"site": site.pk}
    site = Site.objects.get(pk=args["site"])
    if mode == "import":
        r = services.import_file(site, args["file"], chunk=args["chunk"])
        return {"lines": r.lines}
    row = LogFile.objects.get(site=site)
    return {
        "hits": sum(DayFigures.objects.filter(site=site).values_list("hits", flat=True)),
        "page_views": sum(
            DayFigures.objects.filter(site=site).values_list("page_views", flat=True)
        ),
        "offset": row.offset,
        "lines": row.lines,
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    django.setup()
    print(json.dumps(main(sys.argv[1], json.loads(sys.argv[2]))))
