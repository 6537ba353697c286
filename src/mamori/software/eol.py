"""End-of-life dates from a kept copy of endoflife.date data (MNT-01).

The copy is one :class:`EolProduct` row per product: the API's list of cycles
(``{"cycle": "12", "eol": "2026-07-11" | true | false, ...}``), where it came from and when.
Mamori ships a small snapshot (``data/eol.json``) so that it works offline; the job
``software_eol_refresh`` fetches ``<MAMORI_EOL_URL>/<product>.json`` for the products found on
servers once a day (nothing when ``MAMORI_EOL_URL`` is empty). A failed fetch keeps the copy and
records the error; the age of the copy is shown with every date.

A version belongs to the cycle that is the longest prefix of it at a dot ("12" for Debian 12.5,
"8.2" for PHP 8.2.7, "1.24" for nginx 1.24.0).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from mamori.inventory.models import Server
from mamori.software.models import (
    Component,
    EolProduct,
    EolSource,
    EolWarning,
    OperatingSystem,
)

log = logging.getLogger(__name__)

SNAPSHOT = Path(__file__).resolve().parent / "data" / "eol.json"
MAX_BYTES = 2 * 1024 * 1024
TIMEOUT = 20
REFRESH_EVERY = dt.timedelta(hours=24)

#: os-release ID -> endoflife.date product.
OS_PRODUCTS = {
    "debian": "debian",
    "ubuntu": "ubuntu",
    "rhel": "rhel",
    "almalinux": "almalinux",
    "rocky": "rocky-linux",
    "centos": "centos",
    "alpine": "alpine-linux",
    "amzn": "amazon-linux",
}
#: component name -> endoflife.date product.
COMPONENT_PRODUCTS = {
    "nginx": "nginx",
    "apache": "apache-http-server",
    "php": "php",
    "mysql": "mysql",
    "mariadb": "mariadb",
    "postgresql": "postgresql",
    "wordpress": "wordpress",
}
#: endoflife.date product -> its name (a proper noun, the same in every language).
TITLES = {
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "rhel": "Red Hat Enterprise Linux",
    "almalinux": "AlmaLinux OS",
    "rocky-linux": "Rocky Linux",
    "centos": "CentOS",
    "alpine-linux": "Alpine Linux",
    "amazon-linux": "Amazon Linux",
    "nginx": "nginx",
    "apache-http-server": "Apache HTTP Server",
    "php": "PHP",
    "mysql": "MySQL",
    "mariadb": "MariaDB",
    "postgresql": "PostgreSQL",
    "wordpress": "WordPress",
}
_PRODUCT = re.compile(r"[a-z0-9][a-z0-9.-]{0,99}")


class EolError(Exception):
    """The data could not be fetched or is not endoflife.date's shape."""


@dataclass(frozen=True)
class Status:
    """The end of life of one product on one server."""

    product: str
    version: str
    cycle: str | None
    eol: dt.date | None  # None: unknown, or no date set
    ended: bool  # past its end of life (also when the data says only "true")
    fetched_at: dt.datetime | None
    source: str

    @property
    def title(self) -> str:
        return TITLES.get(self.product, self.product)

    def days_left(self, today: dt.date | None = None) -> int | None:
        if self.eol is None:
            return None
        return (self.eol - (today or timezone.localdate())).days


@functools.cache
def _snapshot() -> dict[str, Any]:
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def load_shipped() -> int:
    """Put the shipped snapshot's products in the database where there is no copy yet, and
    replace a shipped copy older than this snapshot (an upgrade ships newer dates); a fetched
    copy is kept. Returns how many copies were written."""
    data = _snapshot()
    made = dt.datetime.fromisoformat(data["_made"])
    have = {
        product: (source, fetched_at)
        for product, source, fetched_at in EolProduct.objects.values_list(
            "product", "source", "fetched_at"
        )
    }
    written = 0
    for product, cycles in data["products"].items():
        if product not in have:
            _, new = EolProduct.objects.get_or_create(
                product=product,
                defaults={"cycles": cycles, "source": EolSource.SHIPPED, "fetched_at": made},
            )
            written += int(new)
        elif have[product][0] == EolSource.SHIPPED and have[product][1] < made:
            written += EolProduct.objects.filter(
                product=product, source=EolSource.SHIPPED, fetched_at__lt=made
            ).update(cycles=cycles, fetched_at=made)
    return written


def validate(payload: Any) -> list[dict[str, Any]]:
    """The cycles of an endoflife.date product answer, checked; raises EolError."""
    if not isinstance(payload, list) or not payload:
        raise EolError("not a list of release cycles")
    cycles = []
    for item in payload[:1000]:
        if not isinstance(item, dict) or not isinstance(item.get("cycle"), str | int | float):
            raise EolError("a release cycle without a 'cycle'")
        eol = item.get("eol")
        if not (isinstance(eol, bool) or eol is None or _as_date(eol) is not None):
            raise EolError(f"cycle {str(item.get('cycle'))[:20]}: 'eol' is not a date")
        kept = {k: v for k, v in item.items() if isinstance(v, str | int | float | bool)}
        kept["cycle"] = str(item["cycle"])[:50]
        cycles.append(kept)
    return cycles


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def fetch(product: str, base_url: str | None = None) -> list[dict[str, Any]]:
    """Fetch one product's cycles from ``<base_url>/<product>.json``; raises EolError."""
    base = (base_url if base_url is not None else settings.MAMORI_EOL_URL).rstrip("/")
    if not _PRODUCT.fullmatch(product):
        raise EolError(f"not a product name: {product[:50]!r}")
    if not base.startswith(("https://", "http://")):
        raise EolError("MAMORI_EOL_URL is not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
        f"{base}/{product}.json",
        headers={"Accept": "application/json", "User-Agent": "Mamori"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            body = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise EolError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EolError(f"cannot connect: {reason}"[:200]) from None
    if len(body) > MAX_BYTES:
        raise EolError("the answer is too large")
    try:
        payload = json.loads(body)
    except ValueError:
        raise EolError("the answer is not JSON") from None
    return validate(payload)


def products_in_use() -> set[str]:
    found = {
        OS_PRODUCTS[i]
        for i in OperatingSystem.objects.values_list("os_id", flat=True)
        if i in OS_PRODUCTS
    }
    for name in Component.objects.values_list("name", flat=True).distinct():
        if name in COMPONENT_PRODUCTS:
            found.add(COMPONENT_PRODUCTS[name])
    return found


def refresh(
    products: list[str] | None = None, *, base_url: str | None = None, force: bool = False
) -> dict[str, str]:
    """Fetch the products (default: those in use whose copy is older than a day) and keep what
    came; returns product -> "ok" or the error. Nothing is fetched without a URL."""
    base = base_url if base_url is not None else settings.MAMORI_EOL_URL
    if not base:
        return {}
    load_shipped()
    now = timezone.now()
    wanted = sorted(products if products is not None else products_in_use())
    result: dict[str, str] = {}
    for product in wanted:
        row = EolProduct.objects.filter(product=product).first()
        if (
            not force
            and row is not None
            and row.source == EolSource.FETCHED
            and row.fetched_at > now - REFRESH_EVERY
        ):
            continue
        try:
            cycles = fetch(product, base)
        except EolError as exc:
            result[product] = str(exc)
            if row is not None:
                EolProduct.objects.filter(pk=row.pk).update(last_error=str(exc)[:300])
            log.warning("end-of-life data for %s not refreshed: %s", product, exc)
            continue
        EolProduct.objects.update_or_create(
            product=product,
            defaults={
                "cycles": cycles,
                "source": EolSource.FETCHED,
                "fetched_at": timezone.now(),
                "last_error": "",
            },
        )
        result[product] = "ok"
    return result


def refresh_job() -> None:
    """The job ``software_eol_refresh``."""
    refresh()


def cycle_of(cycles: list[dict[str, Any]], version: str) -> dict[str, Any] | None:
    """The cycle ``version`` belongs to: the longest cycle name that is the version or a prefix
    of it ending before a dot (or other separator)."""
    best = None
    for item in cycles:
        name = str(item.get("cycle", ""))
        if not name:
            continue
        belongs = version == name or (version.startswith(name) and not version[len(name)].isalnum())
        if belongs and (best is None or len(name) > len(str(best["cycle"]))):
            best = item
    return best


def products_of(server: Server) -> list[tuple[str, str]]:
    """(product, version) of what ``server`` runs that endoflife.date knows of."""
    result = []
    system = OperatingSystem.objects.filter(server=server).first()
    if system is not None and system.os_id in OS_PRODUCTS and system.version_id:
        result.append((OS_PRODUCTS[system.os_id], system.version_id))
    seen = set()
    for comp in Component.objects.filter(server=server).exclude(kind="plugin"):
        product = COMPONENT_PRODUCTS.get(comp.name)
        if product and comp.version and (product, comp.version) not in seen:
            seen.add((product, comp.version))
            result.append((product, comp.version))
    return result


def status_of(server: Server, today: dt.date | None = None) -> list[Status]:
    """The end of life of each product on ``server``, from the kept copy."""
    today = today or timezone.localdate()
    load_shipped()
    copies = {p.product: p for p in EolProduct.objects.all()}
    result = []
    for product, version in products_of(server):
        copy = copies.get(product)
        if copy is None:
            result.append(Status(product, version, None, None, False, None, ""))
            continue
        item = cycle_of(copy.cycles, version)
        eol_value = item.get("eol") if item else None
        eol_date = _as_date(eol_value)
        ended = eol_value is True or (eol_date is not None and eol_date <= today)
        result.append(
            Status(
                product,
                version,
                str(item["cycle"]) if item else None,
                eol_date,
                ended,
                copy.fetched_at,
                copy.source,
            )
        )
    return result


def warn_due(today: dt.date | None = None) -> int:
    """Warn operators of every end of life within ``MAMORI_EOL_WARN_DAYS`` (or past), once per
    server, product and cycle (the job ``software_eol_warnings``)."""
    from mamori.notices import services as notices
    from mamori.notices.models import NoticeKind

    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=settings.MAMORI_EOL_WARN_DAYS)
    made = 0
    servers = Server.objects.filter(software_os__isnull=False).select_related("client")
    for server in servers:
        for status in status_of(server, today):
            if status.cycle is None or status.eol is None or status.eol > horizon:
                continue
            if EolWarning.objects.filter(
                server=server, product=status.product, cycle=status.cycle
            ).exists():
                continue
            try:
                with transaction.atomic():
                    EolWarning.objects.create(
                        server=server,
                        product=status.product,
                        cycle=status.cycle,
                        eol=status.eol,
                        created_at=timezone.now(),
                    )
                    notices.enqueue(
                        NoticeKind.SOFTWARE_EOL,
                        f"software-eol:{server.pk}:{status.product}:{status.cycle}",
                        notices.operator_recipients(server.client),
                        {
                            "client": server.client,
                            "server": server,
                            "product": status.product,
                            "version": status.version,
                            "cycle": status.cycle,
                            "eol": status.eol,
                            "days_left": status.days_left(today),
                            "fetched_at": status.fetched_at,
                            "url": reverse("software:server", args=[server.pk]),
                        },
                        client=server.client,
                    )
            except IntegrityError:
                continue  # another process warned first
            made += 1
    return made
