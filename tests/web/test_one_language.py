"""One language per page: every page, for an operator and for a client user, in Japanese and in
English, shows no text of the other language's UI (issue 15).

- Japanese UI: no English UI sentence of the catalogue (a msgid of django.po with a Japanese
  translation) appears in the visible text.
- English UI: no Japanese character appears in the visible text.

Visible text is the page's text nodes and the attributes people read (title, placeholder, alt,
aria-label, the label of a submit button), without scripts, styles, code, URLs, and without the
scene's user data (names, addresses, hosts … that people typed, listed in ``user_data``).
"""

from __future__ import annotations

import datetime as dt
import gettext
import re
import socket
from functools import cache
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Comment
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

import mamori
from mamori.core.sentences import Text
from tests.web.test_tenancy import CASES, url_of

pytestmark = pytest.mark.req("NOT-03")

PAGES = sorted(n for n, c in CASES.items() if c.kind in ("page", "list", "form"))

# Catalogue entries that are the same word in both languages or a name: not evidence of English.
AMBIGUOUS = {"Mamori", "ACME", "SLA", "API", "PEM", "OK", "URL", "ID", "TLS", "DNS", "HTTP", "CSV"}
# A language's own name in the language switch is written in that language on purpose.
LANGUAGE_NAMES = ("日本語", "English")
VISIBLE_ATTRIBUTES = ("title", "placeholder", "alt", "aria-label")
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff01-\uff60]+")
# URLs, file paths and e-mail addresses are addresses, not words of either language.
RAW_MONEY = re.compile(r"\d[\d.,]* (?:JPY|USD|EUR)\b")
# A JSON example in a help text is code.
JSON_EXAMPLE = re.compile(r'\{[^{}]*"\s*:[^{}]*\}')
ADDRESS = re.compile(r"\S*://\S*|(?<!\S)/\S+|[\w.+-]+@[\w-]+\.[\w.-]+")
# Settings written as key=value (libpq's host=… port=…) are input syntax, typed as shown.
KEY_VALUE = re.compile(r"\b[a-z_]+=\S*")


@cache
def english_sentences() -> list[re.Pattern]:
    """Patterns of the catalogue's English UI strings that have a Japanese translation."""
    mo = Path(mamori.__file__).parent / "locale/ja/LC_MESSAGES/django.mo"
    with mo.open("rb") as f:
        catalog = gettext.GNUTranslations(f)._catalog
    patterns = []
    for key, japanese in catalog.items():
        msgid = key[0] if isinstance(key, tuple) else key
        if not msgid or "\x04" in msgid or not japanese or japanese == msgid:
            continue
        if not JAPANESE.search(japanese) or msgid in AMBIGUOUS:
            continue
        # Placeholders stand for user data or numbers: each literal part is matched on its own
        # when it still says something (two words or more).
        for part in re.split(r"%\(\w+\)[sdf]|%[sd]|\{\w*\}", msgid):
            part = part.strip(" .,:;()·—-")
            says_something = part == msgid.strip(" .,:;()·—-") or len(part.split()) >= 2
            if says_something and len(part) >= 2 and not part.isdigit() and part not in AMBIGUOUS:
                patterns.append(re.compile(r"(?<![\w-])" + re.escape(part) + r"(?![\w-])"))
    return patterns


# Models whose text people type (names, addresses, notes, hosts…) or receive as a document (the
# stored copy of a sent notice). Text Mamori writes itself (tasks, failures, deployment logs,
# check results) is not here: it must be in the reader's language.
TYPED = (
    "clients.Client",
    "clients.Contact",
    "clients.Contract",
    "inventory.Server",
    "inventory.Site",
    "inventory.Domain",
    "inventory.Endpoint",
    "monitoring.Check",
    "monitoring.MaintenanceWindow",
    "monitoring.SlaPolicy",
    "notices.Notice",
    "notices.ContactChannel",
    "lifecycle.AcmeAccount",
    "lifecycle.ManagedCertificate",
    "lifecycle.DeploymentTarget",
    "lifecycle.OrderMessage",
    "lifecycle.SiteSeal",
    "vault.Secret",
    "core.User",
    # The provider's particulars and the lines an operator described in their own words, as
    # printed on an invoice (a document; its labels are in the reader's language).
    "billing.IssuerProfile",
    "billing.Invoice",
    "billing.InvoiceLine",
    # A request's subject and words, its messages and file names (the client's or the operator's).
    "desk.Request",
    "desk.RequestMessage",
    "desk.RequestAttachment",
    # What an operator wrote of a personal-data incident (what, whose, measures).
    "desk.DataIncident",
    # An announcement's subject and text, written by the operator in each language (NOT-04).
    "announcements.Announcement",
)
# Models of which only some fields are typed by people (the rest Mamori writes, and must be in
# the reader's language): a destruction's reason and what it names, not its method.
TYPED_FIELDS = {
    # The words clients write and a contract's clause, a request's own words, work done.
    "desk.CatalogueItem": ("keywords", "clause"),
    "desk.Request": ("subject", "body", "requester"),
    "desk.WorkLog": ("text",),
    "vault.DestructionRecord": ("description", "reason", "actor_label"),
    # A fee's own description, what an order or change asks for, a payment's note.
    "billing.Fee": ("description",),
    "billing.ContractChange": ("summary",),
    "billing.Payment": ("note",),
    # An estimate's subject, notes and lines, and the client's answer, in their own words.
    "billing.Estimate": ("title", "notes", "decline_reason", "answered_for"),
    "billing.EstimateLine": ("description", "unit"),
    # What an operator wrote of an update, its package and versions, a server's output; the
    # vulnerability data's own words.
    "advisories.UpdateRecord": (
        "package",
        "from_version",
        "to_version",
        "reason",
        "performed_by_label",
        "output",
    ),
    "advisories.Advisory": ("osv_id", "summary"),
    "advisories.Finding": ("package", "installed_version", "fixed_version", "ecosystem"),
}


def user_data(scene) -> list[str]:
    """What people typed into the scene (see ``TYPED``), longest first."""
    from django.apps import apps
    from django.db import models

    values: set[str] = set()
    for label in TYPED:
        model = apps.get_model(label)
        fields = [
            f.name
            for f in model._meta.get_fields()
            if isinstance(f, (models.CharField, models.TextField)) and not f.choices
        ]
        for row in model.objects.values_list(*fields):
            values.update(str(v) for v in row if v)
    for label, fields in TYPED_FIELDS.items():
        for row in apps.get_model(label).objects.values_list(*fields):
            values.update(str(v) for v in row if v)
    for text in [v for v in values if "\n" in v]:
        values.update(text.splitlines())
    return sorted((v for v in values if v.strip()), key=len, reverse=True)


def visible_text(html: str, data: list[str]) -> str:
    soup = BeautifulSoup(html, "html.parser")
    # Code, and program output quoted as it came (<samp>: a server's or a CA's own words).
    for tag in soup(["script", "style", "code", "pre", "samp", "template", "noscript"]):
        tag.decompose()
    for tag in soup.select(".brand-mark"):  # the logo: 守り is the product's mark in any language
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    parts = [soup.get_text("\n")]
    for tag in soup.find_all(True):
        parts += [str(tag[a]) for a in VISIBLE_ATTRIBUTES if tag.has_attr(a)]
        if tag.name in ("input", "button") and tag.get("type") in ("submit", "button"):
            parts.append(str(tag.get("value", "")))
    text = KEY_VALUE.sub(" ", ADDRESS.sub(" ", JSON_EXAMPLE.sub(" ", "\n".join(parts))))
    for value in data:
        # Whole values only: "en" (a user's language) is no part of "Client".
        text = re.sub(r"(?<![A-Za-z0-9])" + re.escape(value) + r"(?![A-Za-z0-9])", " ", text)
    for name in LANGUAGE_NAMES:
        text = text.replace(name, " ")
    return text


def other_language(text: str, language: str) -> list[str]:
    """The strings of the other language's UI found in ``text`` (and money written as a
    machine writes it, "15000 JPY": people read ¥15,000 or 15,000円)."""
    found = set(RAW_MONEY.findall(text))
    if language == "en":
        return sorted(found | set(JAPANESE.findall(text)))
    for pattern in english_sentences():
        if match := pattern.search(text):
            found.add(match.group(0))
    return sorted(found)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def results(scene):
    """A check that failed for real (a refused connection) and one that answered, recorded the
    way the runner records them; the incident the failure opened."""
    from mamori.lifecycle.failures import open_failure
    from mamori.lifecycle.manual import record_fee
    from mamori.lifecycle.models import FailureKind, TaskKind
    from mamori.lifecycle.tasks import open_task
    from mamori.monitoring.models import Check
    from mamori.monitoring.services import record_result
    from mamori.probe.checks_result import CheckError, CheckResult, connection_failure
    from tests.web.cases_lifecycle_orders import acme_order
    from tests.web.cases_monitoring_checks import acme_check

    port = closed_port()
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as exc:
        code, message = connection_failure(f"127.0.0.1:{port}", exc)
    down = acme_check()  # the check the check pages show
    Check.objects.filter(pk=down.pk).update(failures_to_confirm=1)
    down.refresh_from_db()
    now = timezone.now()
    for minutes in (3, 2, 1):
        record_result(
            down,
            CheckResult.down(4.0, code, message, {}),
            now - dt.timedelta(minutes=minutes),
        )
        down.refresh_from_db()
    assert code == CheckError.CONNECTION_REFUSED
    up = Check.objects.create(
        client=scene.acme,
        name="www.acme.example HTTP",
        kind="http",
        settings={"url": "https://www.acme.example/"},
    )
    record_result(
        up,
        CheckResult.up(
            120.0,
            "HTTP 200 OK from https://www.acme.example/ in 120 ms",
            {"status_code": 200, "url": "https://www.acme.example/"},
        ),
        now - dt.timedelta(minutes=1),
    )
    # Money on the order page: the CA's fee.
    record_fee(acme_order(), "33000", "JPY", actor=None)
    # A task Mamori opened while Japanese was active: read in English by English readers.
    with translation.override("ja"):
        open_task(
            scene.acme,
            TaskKind.REISSUE,
            "test:one-language",
            Text(gettext_noop("Replace %(cert)s: the CA revoked it"), cert="www.acme.example"),
        )
        # And a failure it recorded (the dashboard's lifecycle panel).
        open_failure(
            scene.acme,
            FailureKind.OVERDUE,
            "test:one-language",
            Text(
                gettext_noop(
                    "The renewal was due %(due)s and no new certificate has arrived; the current "
                    "one expires %(expiry)s."
                ),
                due="2026-12-01 09:00",
                expiry="2026-12-20 09:00",
            ),
        )
    return down, up


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("role", ["operator", "owner"])
def test_every_page_speaks_one_language(role, language, scene, results, client, request):
    user = request.getfixturevalue(role)
    user.language = language
    user.save()
    client.force_login(user)
    problems = {}
    rendered = 0
    for name in PAGES:
        response = client.get(url_of(name, scene))
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        rendered += 1
        found = other_language(visible_text(response.content.decode(), user_data(scene)), language)
        if found:
            problems[name] = found
    assert rendered > 20
    assert not problems, "\n".join(f"{name}: {found}" for name, found in problems.items())


def test_it_catches_an_untranslated_sentence():
    """The Japanese check finds an English UI sentence left in a page, and the English check
    a Japanese one, while user data and the language switch pass."""
    data = ["株式会社アクメ", "Jane Smith"]
    page = (
        "<html><body><h1>ダッシュボード</h1><p>株式会社アクメ · Jane Smith</p>"
        '<a href="https://x.example/Sign out">日本語</a>'
        '<button type="submit" title="Sign out">ログアウト</button></body></html>'
    )
    assert other_language(visible_text(page, data), "ja") == ["Sign out"]
    assert other_language(visible_text(page, data), "en") == ["ダッシュボード", "ログアウト"]
    assert other_language(visible_text(page.replace("Sign out", "x"), data), "ja") == []
    assert other_language(visible_text("<p>15000 JPY</p>", data), "ja") == ["15000 JPY"]


# The filters of every list page use one vocabulary: "All" for no restriction, the same name for
# the same field, "Filter" to apply.
FILTER_WORDS = {
    "en": {"all": "All", "submit": {"Filter"}},
    "ja": {"all": "すべて", "submit": {"絞り込み"}},
}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_filters_say_the_same_word_everywhere(language, scene, results, operator, client):
    operator.language = language
    operator.save()
    client.force_login(operator)
    words = FILTER_WORDS[language]
    labels: dict[str, set[str]] = {}
    problems = []
    for name in sorted(n for n, c in CASES.items() if c.kind == "list"):
        response = client.get(url_of(name, scene))
        if response.status_code != 200:
            continue
        soup = BeautifulSoup(response.content.decode(), "html.parser")
        for form in soup.select("form.filters"):
            for select in form.find_all("select"):
                label = form.find("label", attrs={"for": select.get("id")})
                labels.setdefault(select.get("name"), set()).add(label.get_text(strip=True))
                first = select.find("option")
                unrestricted = first is not None and first.get("value") in ("", "all")
                if unrestricted and first.get_text(strip=True) != words["all"]:
                    problems.append(f"{name}: {select.get('name')} {first.get_text()!r}")
            for button in form.find_all("button", attrs={"type": "submit"}):
                if button.get_text(strip=True) not in words["submit"]:
                    problems.append(f"{name}: button {button.get_text(strip=True)!r}")
    problems += [f"{field} is named {sorted(n)}" for field, n in labels.items() if len(n) > 1]
    assert labels and not problems, "\n".join(problems)
