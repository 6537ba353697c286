"""Benchmark: the cost of one Prometheus scrape of ``/metrics`` at 10,000 checks.

One command::

    python bench/metrics_bench.py [--checks 10000] [--database-url postgres://...]

Fills a fresh database (a temporary SQLite one, or the empty, migrated-here PostgreSQL
database named) with N checks of mixed kinds and states, 30 minutes of their runs at one a
minute (30 × N samples, the last 5 minutes of which the scrape reads), N notices, N/10
incidents, N/2 endpoints each serving a certificate and N/10 orders; then computes the
metrics 5 times and prints the number of queries, the median time of
:class:`mamori.operations.metrics.MamoriCollector` (text encoding included) and each query's time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def fill(n: int) -> None:
    from django.utils import timezone

    from mamori.certificates.models import Certificate, CertificateSighting
    from mamori.clients.models import Client
    from mamori.inventory.models import Endpoint
    from mamori.lifecycle.models import ManagedCertificate, Order
    from mamori.monitoring.models import Check, Incident, Sample
    from mamori.notices.models import Notice

    now = timezone.now()
    client = Client.objects.create(code="acme", name="株式会社アクメ")
    kinds, states = ["http", "tcp", "dns", "tls"], ["up", "up", "up", "down", "unknown"]
    Check.objects.bulk_create(
        Check(client=client, name=f"c{i}", kind=kinds[i % 4], state=states[i % 5]) for i in range(n)
    )
    ids = list(Check.objects.values_list("pk", flat=True))
    for minute in range(30):
        at = now - dt.timedelta(minutes=minute, seconds=1)
        Sample.objects.bulk_create(
            (Sample(uptime_check_id=pk, at=at, ok=pk % 7 != 0, duration_ms=pk % 900) for pk in ids),
            batch_size=5000,
        )
    Incident.objects.bulk_create(
        Incident(client=client, title=f"i{i}", started_at=now) for i in range(n // 10)
    )
    Notice.objects.bulk_create(
        (
            Notice(
                key=f"n{i}",
                kind="incident_opened",
                channel="email",
                recipient_kind="contact",
                recipient="x@acme.example",
                language="ja",
                subject="s",
                body_text="b",
                state=["sent", "sent", "pending", "retry", "failed"][i % 5],
            )
            for i in range(n)
        ),
        batch_size=5000,
    )
    Endpoint.objects.bulk_create(
        Endpoint(client=client, host=f"h{i}.acme.example", port=443) for i in range(n // 2)
    )
    Certificate.objects.bulk_create(
        Certificate(
            fingerprint_sha256=f"{i:064x}",
            subject="CN=x",
            issuer="CN=ca",
            serial=str(i),
            not_before=now,
            not_after=now + dt.timedelta(days=i % 120 - 10),
            key_type="EC",
            signature_algorithm="ecdsa",
            pem="x",
        )
        for i in range(n // 2)
    )
    CertificateSighting.objects.bulk_create(
        CertificateSighting(certificate_id=c, endpoint_id=e, first_seen_at=now, last_seen_at=now)
        for c, e in zip(
            Certificate.objects.order_by("pk").values_list("pk", flat=True),
            Endpoint.objects.order_by("pk").values_list("pk", flat=True),
            strict=True,
        )
    )
    managed = ManagedCertificate.objects.create(client=client, name="m", names=["m.acme.example"])
    Order.objects.bulk_create(
        Order(managed=managed, purpose="renew", issuer="acme", state="issued")
        for _ in range(n // 10)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        os.environ["MAMORI_DATA_DIR"] = data_dir
        os.environ["MAMORI_DATABASE_URL"] = args.database_url or f"sqlite:///{data_dir}/m.sqlite3"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
        import django
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        django.setup()
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        fill(args.checks)
        print(f"{connection.vendor}: filled in {time.perf_counter() - started:.1f} s", flush=True)
        from mamori.operations.metrics import exposition

        times = []
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                body, _ = exposition()
                times.append(time.perf_counter() - started)
        print(
            f"{args.checks} checks: {len(queries.captured_queries)} queries, "
            f"median {statistics.median(times) * 1000:.0f} ms per scrape "
            f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}), {len(body)} bytes"
        )
        for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"])):
            print(f"  {float(query['time']) * 1000:6.0f} ms  {query['sql'][:110]}")


if __name__ == "__main__":
    main()
