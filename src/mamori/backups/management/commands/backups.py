"""``mamori backups run|list|drill|restore`` (BKP-01, BKP-02).

- ``mamori backups list [--client CODE]``: the jobs, their last run and what is next;
- ``mamori backups list JOB``: the runs of one job (backups, drills, restores);
- ``mamori backups run JOB`` / ``--due JOB`` (the scheduler's; runs only if still due);
- ``mamori backups drill JOB`` / ``--due JOB``;
- ``mamori backups restore JOB PATH --target DIR [--snapshot ID] --user NAME``.

A run that fails exits 1 with one line; bad input exits 2.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from mamori.backups import services
from mamori.backups.models import BackupJob, BackupRun, RunState
from mamori.core.management import EXIT_PROBLEMS, EXIT_USAGE, find_user


def usage(message: str) -> CommandError:
    return CommandError(" ".join(str(message).split()), returncode=EXIT_USAGE)


def find_job(ref: str) -> BackupJob:
    if not ref.isdigit():
        raise usage(_("A backup job is named by its id (mamori backups list)."))
    job = BackupJob.objects.select_related("client").filter(pk=int(ref)).first()
    if job is None:
        raise usage(_("No such backup job: %(id)s") % {"id": ref})
    return job


def size(value: int | None) -> str:
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(value)


def describe(run: BackupRun) -> str:
    when = run.started_at or run.due_at
    parts = [
        f"#{run.pk}",
        f"{when:%Y-%m-%d %H:%M}" if when else "-",
        run.kind,
        run.state,
    ]
    if run.snapshot_id:
        parts.append(f"snapshot {run.snapshot_id[:8]}")
    if run.kind == "backup" and run.state == RunState.SUCCEEDED:
        parts.append(
            f"new {run.files_new} changed {run.files_changed} added {size(run.bytes_added)} "
            f"total {size(run.total_size)}"
        )
    if run.kind == "drill" and run.details.get("files") is not None:
        parts.append(
            f"files {run.details['files']} compared {run.details.get('compared')} "
            f"mismatched {len(run.details.get('mismatched', []))}"
        )
    if run.kind == "restore":
        parts.append(f"{run.path} -> {run.target}")
    if run.failure:
        parts.append(f"({run.failure}{'' if run.exit_code is None else f', exit {run.exit_code}'})")
    return "  ".join(parts)


class Command(BaseCommand):
    help = _("Backups: run a job, list jobs and runs, restore drills, restores.")

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
        sub.required = True
        p = sub.add_parser("list", help=_("The backup jobs, or the runs of one job."))
        p.add_argument("job", nargs="?")
        p.add_argument("--client", help=_("client code"))
        p = sub.add_parser("run", help=_("Run a backup job now."))
        p.add_argument("job")
        p.add_argument("--due", action="store_true", help=_("only if it is due (the scheduler)"))
        p.add_argument("--user")
        p = sub.add_parser("drill", help=_("Run a restore drill of a job now."))
        p.add_argument("job")
        p.add_argument("--due", action="store_true", help=_("only if it is due (the scheduler)"))
        p.add_argument("--user")
        p = sub.add_parser("restore", help=_("Restore a path from a job's repository."))
        p.add_argument("job")
        p.add_argument("path", help=_("the absolute path as it was backed up"))
        p.add_argument("--target", required=True, help=_("the directory to restore into"))
        p.add_argument("--snapshot", default="latest", help=_("snapshot id (default: latest)"))
        p.add_argument("--user", required=True, help=_("the operator who asks for it"))

    def handle(self, *args, **options):
        return getattr(self, "do_" + options["subcommand"])(options)

    def do_list(self, options) -> None:
        if options["job"]:
            job = find_job(options["job"])
            for run in job.runs.order_by("-started_at", "-pk")[:50]:
                self.stdout.write(describe(run))
            return
        jobs = BackupJob.objects.select_related("client").order_by("client__code", "name")
        if options["client"]:
            jobs = jobs.filter(client__code=options["client"])
        for job in jobs:
            last = job.runs.filter(kind="backup").order_by("-started_at", "-pk").first()
            nxt = f"{job.next_run_at:%Y-%m-%d %H:%M}" if job.next_run_at else "-"
            self.stdout.write(
                f"{job.pk}  {job.client.code}  {job.name}  {job.repository}  "
                f"every {job.interval_hours} h  next {nxt}  "
                f"last {last.state if last else '-'}"
            )

    def _result(self, run: BackupRun | None) -> None:
        if run is None:
            self.stdout.write(_("Not due, or another run of the job is running."))
            return
        line = describe(run)
        if run.state != RunState.SUCCEEDED:
            first = (run.error or "").strip().splitlines()
            detail = f": {first[-1][:300]}" if first else ""
            raise CommandError(line + detail, returncode=EXIT_PROBLEMS)
        self.stdout.write(line)

    def do_run(self, options) -> None:
        job = find_job(options["job"])
        if options["due"]:
            return self._result(services.run_due_job(job.pk)) if job.next_run_at else None
        user = find_user(options.get("user"))
        try:
            self._result(services.run_backup(job, user=user))
        except services.Busy:
            raise usage(_("Another run of this job is running.")) from None
        except PermissionDenied:
            raise usage(_("That user may not run this job.")) from None

    def do_drill(self, options) -> None:
        job = find_job(options["job"])
        if options["due"]:
            return self._result(services.run_due_drill(job.pk)) if job.next_drill_at else None
        user = find_user(options.get("user"))
        try:
            self._result(services.drill(job, user=user))
        except services.Busy:
            raise usage(_("Another run of this job is running.")) from None

    def do_restore(self, options) -> None:
        job = find_job(options["job"])
        user = find_user(options["user"])
        try:
            run = services.restore(
                job,
                user,
                path=options["path"],
                target=options["target"],
                snapshot=options["snapshot"],
            )
        except ValidationError as exc:
            raise usage(" ".join(m for ms in exc.message_dict.values() for m in ms)) from None
        except PermissionDenied:
            raise usage(_("That user may not restore this job's backups.")) from None
        except services.Busy:
            raise usage(_("Another run of this job is running.")) from None
        self._result(run)
