"""Access log lines into counts (MNT-06). No Django in here: the benchmark and the services use
the same :func:`tally`.

One compiled regular expression per format runs over a whole chunk of complete lines at once
(``findall``: the loop over lines is the regex engine's, not Python's); what is left per line is
a few dictionary updates. A line the expression does not match is *rejected*: counted, never
fatal. Lines are bytes and stay bytes until the counts are stored.

Formats:

- ``combined``: nginx's default ``combined`` and Apache's ``combined`` (the same shape:
  ``host ident user [time] "request" status bytes "referer" "user agent"``; Apache writes ``-``
  for no bytes, nginx ``0``). Anything after the user agent (fields some sites add) is ignored.
- ``vhost_combined``: Apache's ``vhost_combined`` (``host:port`` in front of ``combined``).

Definitions (docs/weblogs.md):

- a *hit* is any line read;
- a *page view* is a hit by a person (not a bot), method GET, status 2xx or 304, of a path that
  is not a static asset (by its extension);
- a *visitor* is a distinct (IP address, user agent) of a person on one day (the day as the log
  line writes it);
- a *bot* is a user agent in the crawler list (``crawler-user-agents``, the maintained list
  published as the PyPI package of that name) or an empty one; a *search bot* is one of the
  search engines' crawlers in :data:`SEARCH_BOTS`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

# A quoted field: anything but a quote, a backslash or a line break, or a backslash escape.
_QUOTED = rb'[^"\\\n]*(?:\\[^\n][^"\\\n]*)*'
_COMBINED = (
    rb"(\S+) \S+ \S+ \[(\d\d/[A-Za-z]{3}/\d{4}):[^\]\n]*\] "
    rb'"(' + _QUOTED + rb')" (\d{3}) (\d+|-) "(' + _QUOTED + rb')" "(' + _QUOTED + rb')"'
    rb"[^\n]*$"
)

FORMATS: dict[str, re.Pattern[bytes]] = {
    "combined": re.compile(rb"^" + _COMBINED, re.MULTILINE),
    "vhost_combined": re.compile(rb"^\S+ " + _COMBINED, re.MULTILINE),
}

FORMAT_CHOICES = (
    ("combined", "combined (nginx, Apache)"),
    ("vhost_combined", "vhost_combined (Apache)"),
)

#: The search engines' crawlers: (name, a text their user agent contains).
SEARCH_BOTS: tuple[tuple[str, str], ...] = (
    ("Googlebot", "Googlebot"),
    ("Google (other)", "Google-InspectionTool"),
    ("Bingbot", "bingbot"),
    ("Yahoo! Slurp", "Yahoo! Slurp"),
    ("DuckDuckBot", "DuckDuckBot"),
    ("Baiduspider", "Baiduspider"),
    ("YandexBot", "YandexBot"),
    ("Applebot", "Applebot"),
    ("Sogou", "Sogou web spider"),
    ("Naver Yeti", "Yeti/"),
    ("SeznamBot", "SeznamBot"),
    ("Qwantbot", "Qwantbot"),
    ("Coc Coc", "coccocbot"),
    ("PetalBot", "PetalBot"),
    ("Mojeek", "MojeekBot"),
)

STATIC_EXTENSIONS = frozenset(
    b".css .js .mjs .map .png .jpg .jpeg .gif .svg .ico .webp .avif .bmp .woff .woff2 .ttf .otf"
    b" .eot .mp4 .webm .mp3 .ogg .wav .pdf .zip .gz .txt .xml .json .webmanifest".split()
)

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS = {m.encode(): i for i, m in enumerate(MONTH_NAMES, start=1)}

PERSON, SEARCH_BOT, OTHER_BOT = 0, 1, 2
#: Dimensions of the monthly counts.
PAGE, STATUS, REFERRER, SEARCH, BOT = "page", "status", "referrer", "search_bot", "bot"
MAX_KEY = 300


class Classifier:
    """User agent → (PERSON | SEARCH_BOT | OTHER_BOT, bot name), remembered per user agent."""

    def __init__(self, limit: int = 200_000):
        from crawleruseragents import CRAWLER_PATTERNS

        self._crawlers = CRAWLER_PATTERNS.case_sensitive
        self._cache: dict[bytes, tuple[int, str]] = {}
        self._limit = limit

    def __call__(self, ua: bytes) -> tuple[int, str]:
        found = self._cache.get(ua)
        if found is None:
            found = self.classify(ua)
            if len(self._cache) >= self._limit:
                self._cache.clear()
            self._cache[ua] = found
        return found

    def classify(self, ua: bytes) -> tuple[int, str]:
        text = ua.decode("utf-8", "replace")
        if text.strip() in ("", "-"):
            return OTHER_BOT, "(no user agent)"
        for name, needle in SEARCH_BOTS:
            if needle in text:
                return SEARCH_BOT, name
        m = self._crawlers.search(text)
        if m:
            name = m.group(0).strip(" /;:()[]+") or text[:60]
            return OTHER_BOT, name[:MAX_KEY]
        return PERSON, ""


def day_of(text: bytes) -> dt.date | None:
    """``10/Oct/2026`` → a date (None if it is not one)."""
    try:
        return dt.date(int(text[7:11]), MONTHS[text[3:6]], int(text[0:2]))
    except (KeyError, ValueError):
        return None


def referrer_host(referrer: bytes) -> str | None:
    """The host of an http(s) referrer, lower case without port or user; None for ``-`` and
    anything else."""
    if not referrer.startswith((b"http://", b"https://")):
        return None
    host = referrer.split(b"/", 3)[2].rpartition(b"@")[2]
    bracketed = host.startswith(b"[")  # an IPv6 address
    host = host.split(b"]")[0] + b"]" if bracketed else host.partition(b":")[0]
    host = host.lower().decode("ascii", "replace")
    return host[:MAX_KEY] or None


@dataclass
class Tally:
    """The counts of some lines. ``days``: day text → [hits, page views, bot hits, search bot
    hits, bytes]; ``people``: day text → {(ip, user agent)}; ``counts``: (day text,
    dimension, key) → n. Day texts are as in the log (``10/Oct/2026``)."""

    lines: int = 0
    rejected: int = 0
    days: dict[bytes, list[int]] = field(default_factory=dict)
    people: dict[bytes, set[tuple[bytes, bytes]]] = field(default_factory=dict)
    counts: dict[tuple[bytes, str, bytes], int] = field(default_factory=dict)

    @property
    def hits(self) -> int:
        return sum(d[0] for d in self.days.values())


def tally(
    data: bytes,
    log_format: str = "combined",
    classify: Classifier | None = None,
    own_hosts: frozenset[str] = frozenset(),
    into: Tally | None = None,
) -> Tally:
    """Count the lines in ``data`` (complete lines; a last line without a line break counts
    too). ``own_hosts``: the site's own host names, not counted as referrers."""
    pattern = FORMATS[log_format]
    classify = classify or Classifier()
    t = into or Tally()
    lines = data.count(b"\n")
    if data and not data.endswith(b"\n"):
        lines += 1
    blank = data.count(b"\n\n") + (1 if data.startswith(b"\n") else 0)
    rows = pattern.findall(data)
    t.lines += lines - blank
    t.rejected += lines - blank - len(rows)
    days, people, counts = t.days, t.people, t.counts
    cget = counts.get
    for ip, day, request, status, size, referrer, ua in rows:
        d = days.get(day)
        if d is None:
            d = days[day] = [0, 0, 0, 0, 0]
            people[day] = set()
        d[0] += 1
        if size != b"-":
            d[4] += int(size)
        key = (day, STATUS, status)
        counts[key] = cget(key, 0) + 1
        kind, name = classify(ua)
        if kind:
            if kind == SEARCH_BOT:
                d[3] += 1
                key = (day, SEARCH, name)
            else:
                d[2] += 1
                key = (day, BOT, name)
            counts[key] = cget(key, 0) + 1
            continue
        people[day].add((ip, ua))
        if not request.startswith(b"GET ") or not (status[0] == 50 or status == b"304"):
            continue
        path = request[4:].rpartition(b" ")[0] or request[4:]
        path = path.partition(b"?")[0]
        dot = path.rfind(b".")
        if dot > path.rfind(b"/") and path[dot:].lower() in STATIC_EXTENSIONS:
            continue
        d[1] += 1
        key = (day, PAGE, path[:MAX_KEY])
        counts[key] = cget(key, 0) + 1
        if referrer != b"-":
            host = referrer_host(referrer)
            if host and host not in own_hosts:
                key = (day, REFERRER, host)
                counts[key] = cget(key, 0) + 1
    return t
