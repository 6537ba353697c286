"""A worker for the kill test: ``python -m tests.backups.crash_worker MODE JSON`` against the
database in ``$MAMORI_DATA_DIR``. ``setup`` migrates and creates a job (prints its id); ``run``
runs it (meant to be killed); ``pass`` runs the periodic pass inline and prints the runs."""

from __future__ import annotations

import json
import sys

import django


def main(mode: str, args: dict) -> dict:
    from django.utils import timezone

    from mamori.backups import schedule, services
    from mamori.backups.models import BackupJob
    from mamori.clients.models import Client
    from mamori.vault import services as vault

    if mode == "setup":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("migrate", database="keystore", verbosity=0)
        client = Client.objects.create(code="crash", name="Crash Test KK")
        password = vault.store_secret(
            client, kind="other", name="restic", value="crash-test-password", actor=None
        )
        job = services.create_job(
            client,
            None,
            name="big",
            paths=args["source"],
            repository=args["repo"],
            repository_password=password,
            run_on="mamori",
        )
        return {"job": job.pk}
    job = BackupJob.objects.get(pk=args["job"])
    if mode == "run":
        run = services.run_backup(job, due_at=job.next_run_at)
        return {"state": run.state}
    if mode == "pass":
        schedule.run_due(inline=True)  # finds the dead run; the retry is due in 5 minutes
        first = schedule.run_due(inline=True)  # not yet
        job.refresh_from_db()
        retry_in = (job.next_run_at - timezone.now()).total_seconds()
        BackupJob.objects.filter(pk=job.pk).update(next_run_at=timezone.now())  # 5 min later
        schedule.run_due(inline=True)
        job.refresh_from_db()
        return {
            "runs": [
                {
                    "state": r.state,
                    "failure": r.failure,
                    "attempt": r.attempt,
                    "files_new": r.files_new,
                }
                for r in job.runs.order_by("pk")
            ],
            "incident": job.incident_id,
            "started_early": first["started"],
            "retry_in": retry_in,
            "incidents": list(
                __import__(
                    "mamori.monitoring.models", fromlist=["Incident"]
                ).Incident.objects.values_list("state", flat=True)
            ),
        }
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    django.setup()
    print(json.dumps(main(sys.argv[1], json.loads(sys.argv[2]))))
