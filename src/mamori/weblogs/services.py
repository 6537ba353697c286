"""Reading access logs into counts, incrementally and exactly once (MNT-06).

A log file is read as a *stream* of content: ``access.log``, renamed ``access.log.1`` and
compressed ``access.log.2.gz`` are one stream, known by the SHA-256 of its first line
(:class:`~mamori.weblogs.models.LogFile`). Each run reads a stream from its stored ``offset``
(bytes of uncompressed content) in chunks of complete lines; each chunk's counts and the new
offset are written in ONE transaction, by a conditional UPDATE of the offset (from the value the
run started from): a run killed halfway loses at most the chunk it had not committed, and the
next run counts it once. A file whose first line changed under the same inode (truncated,
``copytruncate``) is a new stream. A line not yet ended by a line break is left for the next run
(except at the end of a compressed file, which no one writes to any more).

Entry points: :func:`import_file` (a file on the Mamori host or uploaded), :func:`collect_site`
(over SSH with the login of the site's server), :func:`collect_due` (the periodic job),
:func:`close_days` (deletes the visitor hashes of closed days), :func:`save_setup` and
:func:`month_figures` (the monthly report's read function).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import io
import os
import re
import secrets
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.core import audit
from mamori.weblogs import geo, parse
from mamori.weblogs.models import (
    CollectError,
    DayFigures,
    DaySalt,
    Dimension,
    LogFile,
    LogSetup,
    MonthCount,
    VisitorMark,
)

CHUNK = 8 << 20
FIRST_LINE_MAX = 64 << 10
LEASE = dt.timedelta(hours=1)
SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./*?\[\]+@-]*$")


class WeblogError(Exception):
    """A log that cannot be read, with a message for the operator."""


class NoLogin(WeblogError):
    """The site has no server, or its server no SSH login."""


class NoHostKey(WeblogError):
    """The server's SSH host key is not configured."""


class Busy(WeblogError):
    """Another run is reading the same site (or the same stream) now."""


@dataclass
class Source:
    """A log file to read: where it is, what the system says of it, how to open it (raw
    bytes, compressed or not)."""

    path: str
    opener: Any
    device: int = 0
    inode: int = 0
    size: int = 0

    def open(self) -> BinaryIO:
        raw = self.opener()
        head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
        if head == b"\x1f\x8b":
            return _Gunzip(raw)
        return raw


class _Gunzip(io.BufferedReader):
    compressed = True

    def __init__(self, raw: BinaryIO):
        self._compressed_file = raw
        super().__init__(gzip.GzipFile(fileobj=raw, mode="rb"), buffer_size=1 << 20)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._compressed_file.close()


@dataclass
class Result:
    path: str
    lines: int = 0
    rejected: int = 0
    skipped: str = ""
    notes: list[str] = field(default_factory=list)


def local_source(path: str | os.PathLike[str]) -> Source:
    st = os.stat(path)
    return Source(
        str(path),
        lambda: open(path, "rb", buffering=1 << 20),
        st.st_dev,
        st.st_ino,
        st.st_size,
    )


def own_hosts(site: Any) -> frozenset[str]:
    host = (urlsplit(site.url).hostname or "").lower()
    if not host:
        return frozenset()
    bare = host.removeprefix("www.")
    return frozenset({host, bare, f"www.{bare}"})


def ingest(
    site: Any,
    source: Source,
    log_format: str = "combined",
    *,
    chunk: int = CHUNK,
    classify: parse.Classifier | None = None,
) -> Result:
    """Count what ``source`` holds beyond what was counted before; see the module's text."""
    result = Result(source.path)
    classify = classify or parse.Classifier()
    hosts = own_hosts(site)
    try:
        stream = source.open()
    except OSError as exc:
        raise WeblogError(
            _("Cannot open %(path)s: %(error)s") % {"path": source.path, "error": exc.strerror}
        ) from None
    compressed = isinstance(stream, _Gunzip)
    with stream:
        try:
            head = stream.read(FIRST_LINE_MAX)
        except (OSError, EOFError, zlib.error) as exc:
            raise WeblogError(
                _("Cannot read %(path)s: %(error)s") % {"path": source.path, "error": exc}
            ) from None
        end = head.find(b"\n")
        if end < 0:
            if not head or not compressed or len(head) == FIRST_LINE_MAX:
                result.skipped = "no complete line yet"
                return result
            end = len(head) - 1
        digest = hashlib.sha256(head[: end + 1]).hexdigest()
        copy = f"{source.device}:{source.inode}:{source.size}" if compressed else ""
        row, _created = LogFile.objects.get_or_create(
            site=site,
            first_line_hash=digest,
            defaults={"path": source.path[:1000]},
        )
        if compressed and copy and row.finished_copy == copy:
            result.skipped = "already read"
            return result
        offset = row.offset
        if not compressed and source.size and source.size < offset:
            # The same first line but less content than was counted: rewritten from scratch.
            LogFile.objects.filter(pk=row.pk, offset=offset).update(offset=0)
            result.notes.append("file shorter than what was read: read again from its start")
            offset = 0
        if offset < len(head):
            buffer, position = head[offset:], offset
        else:
            buffer, position = b"", offset
            try:
                stream.seek(offset)
            except (OSError, EOFError, zlib.error) as exc:
                raise WeblogError(
                    _("Cannot read %(path)s: %(error)s") % {"path": source.path, "error": exc}
                ) from None
        at_end = False
        while True:
            while not at_end and len(buffer) < chunk:
                try:
                    more = stream.read(chunk)
                except (OSError, EOFError, zlib.error) as exc:
                    raise WeblogError(
                        _("Cannot read %(path)s: %(error)s") % {"path": source.path, "error": exc}
                    ) from None
                if not more:
                    at_end = True
                buffer += more
            cut = buffer.rfind(b"\n", 0, chunk) + 1 if len(buffer) > chunk else 0
            if not cut:
                cut = buffer.rfind(b"\n") + 1
            if at_end and compressed and cut < len(buffer) and len(buffer) <= chunk:
                cut = len(buffer)  # the last line of a finished file
            if not cut:
                break
            piece, buffer = buffer[:cut], buffer[cut:]
            counted = parse.tally(piece, log_format, classify, hosts)
            commit(site, row.pk, source, position, position + cut, counted)
            position += cut
            result.lines += counted.lines
            result.rejected += counted.rejected
        if compressed and at_end and not buffer and copy:
            LogFile.objects.filter(pk=row.pk, offset=position).update(finished_copy=copy)
    return result


def commit(site: Any, row_id: int, source: Source, old: int, new: int, t: parse.Tally) -> None:
    """The counts of the lines between ``old`` and ``new`` and the new offset, together."""
    days: dict[bytes, dt.date] = {}
    rejected = t.rejected
    for text in t.days:
        day = parse.day_of(text)
        if day is None:
            rejected += t.days[text][0]
        else:
            days[text] = day
    with transaction.atomic():
        moved = LogFile.objects.filter(pk=row_id, offset=old).update(
            offset=new,
            lines=F("lines") + t.lines,
            rejected=F("rejected") + rejected,
            path=source.path[:1000],
            device=source.device,
            inode=source.inode,
            size=source.size,
            read_at=timezone.now(),
        )
        if moved != 1:
            raise Busy(_("Another run is reading %(path)s.") % {"path": source.path})
        _store(site, t, days)


def _store(site: Any, t: parse.Tally, days: dict[bytes, dt.date]) -> None:
    closed = set(
        DayFigures.objects.filter(site=site, day__in=days.values(), closed=True).values_list(
            "day", flat=True
        )
    )
    visitors: dict[dt.date, int] = {}
    countries = geo.countries_or_none()
    # (month, country) → the new visitors of its days from there.
    by_country: dict[tuple[dt.date, str], int] = {}
    for text, day in days.items():
        if day in closed or not t.people[text]:
            continue
        new = _new_visitors(site, day, t.people[text])
        visitors[day] = visitors.get(day, 0) + len(new)
        if countries is not None:
            for ip in new:
                key = (day.replace(day=1), countries(ip))
                by_country[key] = by_country.get(key, 0) + 1
    adapt = connection.ops.adapt_datefield_value
    day_rows = []
    for text, day in days.items():
        hits, views, bots, search, size = t.days[text]
        day_rows.append(
            (site.pk, adapt(day), hits, views, visitors.get(day, 0), bots, search, size, False)
        )
    table = DayFigures._meta.db_table
    columns = ("hits", "page_views", "visitors", "bot_hits", "search_bot_hits", "bytes_sent")
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns)
    # Only the models' own table and column names are put into the SQL; values are parameters.
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (site_id, day, {', '.join(columns)}, closed) "  # noqa: S608
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            f"ON CONFLICT (site_id, day) DO UPDATE SET {updates}",
            day_rows,
        )
        months: dict[tuple[dt.date, str, str], int] = {}
        for (text, dimension, key), n in t.counts.items():
            day = days.get(text)
            if day is None:
                continue
            name = key if isinstance(key, str) else key.decode("utf-8", "replace")
            k = (day.replace(day=1), dimension, name.replace("\x00", "")[: parse.MAX_KEY])
            months[k] = months.get(k, 0) + n
        for (month, code), n in by_country.items():
            months[(month, Dimension.COUNTRY.value, code)] = n
        table = MonthCount._meta.db_table
        cursor.executemany(
            f"INSERT INTO {table} (site_id, month, dimension, key, count) "  # noqa: S608
            f"VALUES (%s, %s, %s, %s, %s) "
            f"ON CONFLICT (site_id, month, dimension, key) "
            f"DO UPDATE SET count = {table}.count + excluded.count",
            [(site.pk, adapt(m), d, k, n) for (m, d, k), n in months.items()],
        )


def _new_visitors(site: Any, day: dt.date, people: set[tuple[bytes, bytes]]) -> list[bytes]:
    """Record the visitors of ``day`` not yet counted; their addresses (for their countries,
    never stored)."""
    salt_row = DaySalt.objects.filter(site=site, day=day).first()
    if salt_row is None:
        salt_row = DaySalt.objects.create(site=site, day=day, salt=secrets.token_bytes(32))
    salt = bytes(salt_row.salt)
    addresses: dict[str, bytes] = {}
    for ip, ua in people:
        addresses[hashlib.blake2b(ip + b"\0" + ua, key=salt, digest_size=16).hexdigest()] = ip
    ordered = sorted(addresses)
    known: set[str] = set()
    for i in range(0, len(ordered), 500):
        known.update(
            VisitorMark.objects.filter(
                site=site, day=day, digest__in=ordered[i : i + 500]
            ).values_list("digest", flat=True)
        )
    new = [VisitorMark(site=site, day=day, digest=d) for d in ordered if d not in known]
    VisitorMark.objects.bulk_create(new, batch_size=500)
    return [addresses[mark.digest] for mark in new]


def close_days() -> int:
    """Delete the visitor hashes (and their keys) of days older than
    ``MAMORI_WEBLOG_VISITOR_DAYS`` whose hashes are at least as old; their figures are closed
    (later lines of them add hits and page views, not visitors). Returns the days closed."""
    keep = settings.MAMORI_WEBLOG_VISITOR_DAYS
    cutoff = timezone.localdate() - dt.timedelta(days=keep - 1)
    made_before = timezone.now() - dt.timedelta(days=keep)
    salts = DaySalt.objects.filter(day__lt=cutoff, created_at__lt=made_before)
    closed = 0
    for site_id, day in list(salts.values_list("site_id", "day")):
        with transaction.atomic():
            VisitorMark.objects.filter(site_id=site_id, day=day).delete()
            DaySalt.objects.filter(site_id=site_id, day=day).delete()
            DayFigures.objects.filter(site_id=site_id, day=day).update(closed=True)
        closed += 1
    return closed


# ---------------------------------------------------------------------------------------------
# Import and collection


def import_file(
    site: Any,
    path: str | os.PathLike[str],
    *,
    log_format: str = "combined",
    actor: Any = None,
    name: str | None = None,
    chunk: int = CHUNK,
) -> Result:
    """Count a log file on this host (given on the command line, or an upload saved to a
    temporary file: ``name`` is then the file's name as uploaded)."""
    if log_format not in parse.FORMATS:
        raise WeblogError(_("Unknown log format %(format)s.") % {"format": log_format})
    try:
        source = local_source(path)
    except OSError as exc:
        raise WeblogError(
            _("Cannot open %(path)s: %(error)s") % {"path": path, "error": exc.strerror}
        ) from None
    if name is not None:  # an upload: its temporary file says nothing of the original
        source.path, source.device, source.inode = name[:1000], 0, 0
    result = ingest(site, source, log_format, chunk=chunk)
    audit.record(
        "weblogs.imported",
        site,
        actor=actor,
        changes={
            "file": source.path[:200],
            "lines": result.lines,
            "rejected": result.rejected,
            "skipped": result.skipped,
        },
    )
    return result


MAX_UPLOAD = 2 << 30


def import_upload(
    site: Any,
    chunks: Iterable[bytes],
    *,
    name: str,
    log_format: str = "combined",
    actor: Any = None,
    limit: int = MAX_UPLOAD,
) -> Result:
    """Count an uploaded log (plain or gzip; from the page or the API): its bytes are kept in a
    private temporary file only while they are read. More than ``limit`` bytes are refused."""
    if log_format not in parse.FORMATS:
        raise WeblogError(_("Unknown log format %(format)s.") % {"format": log_format})
    fd, temp = tempfile.mkstemp(prefix="mamori-log-")
    try:
        written = 0
        with os.fdopen(fd, "wb") as out:
            for part in chunks:
                written += len(part)
                if written > limit:
                    raise WeblogError(
                        _("At most %(size)s per file.") % {"size": filesizeformat(limit)}
                    )
                out.write(part)
        return import_file(
            site,
            temp,
            log_format=log_format,
            actor=actor,
            name=os.path.basename(name or "upload")[:200] or "upload",
        )
    finally:
        os.unlink(temp)


def validate_setup(setup: LogSetup) -> None:
    errors: dict[str, Any] = {}
    paths = setup.path_list()
    if not paths:
        errors["paths"] = _("At least one access log file.")
    for line in paths:
        if not SAFE_PATH.match(line):
            errors["paths"] = _(
                "Each line an absolute path of letters, digits and / . _ - + @, "
                "with * ? [ ] as patterns."
            )
    if setup.log_format not in parse.FORMATS:
        errors["log_format"] = _("Unknown log format.")
    if not 1 <= (setup.interval_hours or 0) <= 24 * 31:
        errors["interval_hours"] = _("Between 1 hour and 31 days.")
    if errors:
        raise ValidationError(errors)


def save_setup(site: Any, values: dict[str, Any], *, actor: Any = None) -> LogSetup:
    """Create or change the access log setup of ``site``."""
    with transaction.atomic():
        setup = LogSetup.objects.filter(site=site).first() or LogSetup(site=site)
        for key in ("enabled", "paths", "log_format", "interval_hours"):
            if key in values:
                setattr(setup, key, values[key])
        validate_setup(setup)
        if setup.next_collection_at is None:
            setup.next_collection_at = timezone.now()
        setup.save()
        audit.record(
            "weblogs.setup_saved",
            setup,
            actor=actor,
            client_id=site.client_id,
            changes={
                "site": site.pk,
                "paths": setup.paths,
                "log_format": setup.log_format,
                "enabled": setup.enabled,
                "interval_hours": setup.interval_hours,
            },
        )
    return setup


def _login_of(site: Any) -> Any:
    from mamori.software.models import CollectionSetup

    login = (
        CollectionSetup.objects.filter(server=site.server_id).first() if site.server_id else None
    )
    if login is None:
        raise NoLogin(
            _(
                "The site's server has no SSH login: set up its software collection "
                "(SSH host, user, credential, host key) first."
            )
        )
    return login


class _RemoteRaw(io.RawIOBase):
    """A remote file read by ranges over SFTP, for io.BufferedReader."""

    def __init__(self, remote: Any, path: str):
        self.remote, self.path, self.position = remote, path, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self.position = offset
        elif whence == 1:
            self.position += offset
        else:
            raise OSError("seek from the end is not supported")
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any) -> int:
        data = self.remote.read_range(self.path, self.position, len(buffer))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def remote_files(remote: Any, patterns: list[str]) -> list[Source]:
    """The regular files matching ``patterns`` on the server, with device, inode and size."""
    from mamori.lifecycle import ssh

    script = "; ".join(
        f'for f in {p}; do [ -f "$f" ] && stat -L -c "%d %i %s %n" -- "$f"; done'
        for p in patterns
        if SAFE_PATH.match(p)
    )
    status, output = remote.run(f"{script}; true", timeout=60)
    if status != 0:
        raise ssh.SSHError(f"listing the log files failed (status {status}): {output[-300:]}")
    found = []
    for line in output.splitlines():
        parts = line.split(" ", 3)
        if len(parts) != 4 or not parts[0].isdigit():
            continue
        device, inode, size, path = int(parts[0]), int(parts[1]), int(parts[2]), parts[3]
        found.append(
            Source(
                path,
                lambda p=path: io.BufferedReader(_RemoteRaw(remote, p), buffer_size=4 << 20),
                device,
                inode,
                size,
            )
        )
    return found


def collect_site(site: Any, *, actor: Any = None) -> list[Result]:
    """Read the site's access logs over SSH now. Raises ValidationError without a setup,
    :class:`Busy` when a collection of the site runs, :class:`WeblogError` (the message
    recorded on the setup too) when the server cannot be reached."""
    from mamori.lifecycle import ssh

    setup = LogSetup.objects.filter(site=site).first()
    if setup is None:
        raise ValidationError(_("The site has no access log setup."))
    now = timezone.now()
    taken = LogSetup.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now), pk=setup.pk
    ).update(lease_until=now + LEASE)
    if not taken:
        raise Busy(_("A collection of this site's logs is already running."))
    results: list[Result] = []
    error = code = detail = ""
    try:
        login = _login_of(site)
        if not login.ssh_host_key.strip():
            raise NoHostKey(_("The server's SSH host key is not configured."))
        with ssh.sync_session(
            login.ssh_host,
            login.ssh_port,
            login.ssh_username,
            login.ssh_secret,
            login.ssh_host_key,
        ) as remote:
            files = remote_files(remote, setup.path_list())
            classify = parse.Classifier()
            for source in sorted(files, key=lambda s: s.path, reverse=True):
                try:
                    results.append(ingest(site, source, setup.log_format, classify=classify))
                except WeblogError as exc:
                    results.append(Result(source.path, skipped=str(exc)))
    except NoLogin as exc:
        error, code = str(exc), CollectError.NO_LOGIN
    except NoHostKey as exc:
        error, code = str(exc), CollectError.NO_HOST_KEY
    except ssh.SSHError as exc:
        # The SSH library's technical words are kept as they are (with a code to translate).
        error, code, detail = str(exc), CollectError.SSH, str(exc)[:500]
    finally:
        done = timezone.now()
        LogSetup.objects.filter(pk=setup.pk).update(
            lease_until=None,
            last_collected_at=done,
            last_error_code=code,
            last_error=detail,
            next_collection_at=done + dt.timedelta(hours=setup.interval_hours),
        )
        audit.record(
            "weblogs.collected",
            setup,
            actor=actor,
            client_id=site.client_id,
            changes={
                "site": site.pk,
                "files": len(results),
                "lines": sum(r.lines for r in results),
                "rejected": sum(r.rejected for r in results),
                "error": code,
            },
        )
    if error:
        raise WeblogError(error)
    return results


def collect_due() -> int:
    """The periodic job: every enabled setup whose collection is due; then close old days."""
    now = timezone.now()
    done = 0
    due = LogSetup.objects.filter(enabled=True).filter(
        Q(next_collection_at__isnull=True) | Q(next_collection_at__lte=now)
    )
    for setup in due.select_related("site"):
        with contextlib.suppress(WeblogError, ValidationError):  # recorded on the setup
            collect_site(setup.site)
        done += 1
    close_days()
    return done


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass
class MonthFigures:
    """A site's figures for one month (the monthly report's section, MNT-06)."""

    site_id: int
    month: dt.date
    hits: int = 0
    page_views: int = 0
    visitors: int = 0
    bot_hits: int = 0
    search_bot_hits: int = 0
    bytes_sent: int = 0
    days: list[dict[str, Any]] = field(default_factory=list)
    top: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    rejected_lines: int = 0
    has_data: bool = False


def month_figures(site: Any, month: dt.date, *, top: int = 10) -> MonthFigures:
    """The figures of ``site`` in the month of ``month``: totals, each day, and the ``top``
    keys of each dimension (pages, status codes, referrer hosts, search bots, other bots).
    ``visitors`` of the month is the sum of each day's visitors (a visitor is counted once a
    day). ``rejected_lines`` counts every line never read into any month (all time)."""
    first = month.replace(day=1)
    after = (first + dt.timedelta(days=32)).replace(day=1)
    figures = MonthFigures(site.pk, first)
    for d in DayFigures.objects.filter(site=site, day__gte=first, day__lt=after):
        figures.has_data = True
        figures.hits += d.hits
        figures.page_views += d.page_views
        figures.visitors += d.visitors
        figures.bot_hits += d.bot_hits
        figures.search_bot_hits += d.search_bot_hits
        figures.bytes_sent += d.bytes_sent
        figures.days.append(
            {
                "day": d.day,
                "hits": d.hits,
                "page_views": d.page_views,
                "visitors": d.visitors,
                "bot_hits": d.bot_hits + d.search_bot_hits,
            }
        )
    for dimension in Dimension.values:
        rows = MonthCount.objects.filter(site=site, month=first, dimension=dimension)
        if dimension == Dimension.STATUS:
            rows = rows.order_by("key")
        else:
            rows = rows.order_by("-count", "key")[:top]
        figures.top[dimension] = [(r.key, r.count) for r in rows]
    figures.rejected_lines = sum(
        LogFile.objects.filter(site=site).values_list("rejected", flat=True)
    )
    return figures
