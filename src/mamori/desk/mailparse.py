"""Reading a client's e-mail (MNT-03): the facts the desk needs from one raw message.

Parsed with the standard ``email`` package (``policy.default``): encoded-word subjects and file
names, MIME structure, and bodies in ISO-2022-JP, Shift_JIS or UTF-8. Japanese mail clients
still send ISO-2022-JP and Shift_JIS with the vendor characters of Windows (①, ㈱, ～), which the
strict codecs refuse, so those charsets are read with their supersets (CP932, ISO-2022-JP-2004
and friends) before falling back to replacement characters.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser

#: Subject markers by which a client marks a request confidential (its files go to the vault).
CONFIDENTIAL = re.compile(r"【機密】|\[機密\]|［機密］|\[confidential\]", re.IGNORECASE)
#: The subject token of a request: ``[R-<pk>]``.
TOKEN = re.compile(r"\[R-(\d{1,18})\]")
# Defects after which the parts of a message cannot be told apart.
_BROKEN_STRUCTURE = frozenset(
    {
        "NoBoundaryInMultipartDefect",
        "StartBoundaryNotFoundDefect",
        "MultipartInvariantViolationDefect",
    }
)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")

# Charsets as labelled, tried in order; the first that decodes without error wins.
_SUPERSETS = {
    "shift_jis": ("cp932", "shift_jis_2004"),
    "shift-jis": ("cp932", "shift_jis_2004"),
    "sjis": ("cp932", "shift_jis_2004"),
    "x-sjis": ("cp932", "shift_jis_2004"),
    "windows-31j": ("cp932",),
    "cp932": ("cp932",),
    "iso-2022-jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2004", "iso2022_jp_2"),
    "euc-jp": ("euc_jp", "euc_jis_2004"),
}


class MalformedMail(Exception):
    """The message cannot be read; the message says what is wrong (technical, English)."""


@dataclass
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass
class ParsedMail:
    message_id: str
    sender: str  # the address, lower case
    sender_name: str
    subject: str
    text: str
    sent_at: dt.datetime | None
    references: list[str] = field(default_factory=list)  # In-Reply-To first, then References
    in_reply_to: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    automatic: str = ""  # "auto_reply", "bounce" or ""
    defects: list[str] = field(default_factory=list)

    @property
    def confidential(self) -> bool:
        return bool(CONFIDENTIAL.search(self.subject))

    @property
    def token(self) -> int | None:
        found = TOKEN.search(self.subject)
        return int(found.group(1)) if found else None


def synthetic_message_id(raw: bytes) -> str:
    """A stable Message-ID for a mail that has none: the same bytes give the same id."""
    return f"<sha256-{hashlib.sha256(raw).hexdigest()[:40]}@mamori.invalid>"


def message_id_of(raw: bytes) -> str:
    """The Message-ID of ``raw``, read as leniently as possible (a mail too broken to parse
    still needs an id to be recorded once)."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        value = str(message.get("Message-ID", "") or "")
    except Exception:
        value = ""
    found = _MESSAGE_ID.search(value)
    return found.group(0)[:998] if found else synthetic_message_id(raw)


def decode_bytes(data: bytes, charset: str | None) -> str:
    """``data`` as text in its labelled ``charset`` (or a superset of it); unlabelled text is
    tried as UTF-8, then CP932; what cannot be decoded is replaced, never dropped silently."""
    label = (charset or "").strip().lower()
    candidates = list(_SUPERSETS.get(label, (label,) if label else ()))
    candidates += ["utf-8", "cp932", "iso2022_jp_ext"]
    for name in candidates:
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode(candidates[0] if _known(candidates[0]) else "utf-8", errors="replace")


def _known(codec: str) -> bool:
    import codecs

    try:
        codecs.lookup(codec)
    except LookupError:
        return False
    return True


def unescape(value: str) -> str:
    """A header value with raw 8-bit bytes (which the parser keeps as surrogate escapes) read
    as UTF-8, or as CP932 from older Japanese mail programs."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    return value


def _part_text(part: EmailMessage) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    return decode_bytes(payload, part.get_content_charset())


class _TextOfHtml(HTMLParser):
    """The visible text of an HTML body: scripts and styles dropped, blocks on their own
    lines."""

    BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# Lines that introduce the quoted history of a reply (the text after them is history).
_ATTRIBUTION = re.compile(
    # "On …, A <a@b> wrote:", "…に書きました:", Gmail's "2026年12月7日(月) 10:00 A <a@b>:"
    r"(wrote\s*:|書きました[:：]?|のメッセージ[:：]?|<[^<>\s]+@[^<>\s]+>\s*[:：])\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(Original Message|元のメッセージ|Forwarded message|転送されたメッセージ)"
    r"\s*-{2,}|_{10,})\s*$",
    re.IGNORECASE,
)


def strip_quoted(text: str) -> str:
    """The new words of a reply, without the history it quotes — only where that is clear:
    a final block of ``>`` lines (with the attribution line before it), or everything after an
    Outlook-style "Original Message" separator. Text interleaved with quotes is kept whole, as
    is a reply that would be empty without its quotes."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if _SEPARATOR.match(line):
            head = "\n".join(lines[:i]).strip()
            return head or text.strip()
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = end
    while start and (lines[start - 1].lstrip().startswith(">") or not lines[start - 1].strip()):
        start -= 1
    if start == end or not any(line.lstrip().startswith(">") for line in lines[start:end]):
        return text.strip()
    # The attribution may wrap over two lines ("On Mon, … <a@b>\nwrote:").
    for back in (1, 2):
        if start - back >= 0 and _ATTRIBUTION.search(lines[start - back].strip()):
            start -= back
            break
    head = "\n".join(lines[:start]).strip()
    return head or text.strip()


def _automatic(message: EmailMessage, sender: str) -> str:
    """ "bounce" for a delivery report, "auto_reply" for other automatic mail (RFC 3834
    Auto-Submitted, Precedence, vacation responders' own headers), else ""."""
    local = sender.partition("@")[0]
    if (
        message.get_content_type() == "multipart/report"
        or local in {"mailer-daemon", "postmaster"}
        or (
            str(message.get("Return-Path", "")).strip() == "<>"
            and message.get_content_maintype() == "multipart"
        )
    ):
        return "bounce"
    submitted = str(message.get("Auto-Submitted", "") or "").strip().lower()
    if submitted and not submitted.startswith("no"):
        return "auto_reply"
    precedence = str(message.get("Precedence", "") or "").strip().lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return "auto_reply"
    if any(message.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply")):
        return "auto_reply"
    return ""


def _ids(value: str) -> list[str]:
    return [found[:998] for found in _MESSAGE_ID.findall(value or "")]


def _body_and_attachments(message: EmailMessage) -> tuple[str, list[Attachment]]:
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        text = _part_text(body)
        if body.get_content_type() == "text/html":
            text = html_to_text(text)
    attachments = []
    for part in message.walk():
        if part.is_multipart() or part is body:
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if disposition != "attachment" and not filename:
            continue
        if part.get_content_type() in ("message/delivery-status",):
            continue
        content = part.get_payload(decode=True)
        if content is None:
            continue
        attachments.append(
            Attachment(
                filename=unescape(filename or "attachment").strip() or "attachment",
                content_type=part.get_content_type(),
                content=content,
            )
        )
    return text.replace("\r\n", "\n").strip(), attachments


def parse(raw: bytes) -> ParsedMail:
    """Read ``raw``; raises :class:`MalformedMail` when it cannot be read as a message."""
    if not raw.strip():
        raise MalformedMail("empty message")
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as e:
        raise MalformedMail(f"cannot parse: {e}") from e
    defects = sorted({type(d).__name__ for part in message.walk() for d in part.defects})
    broken = sorted(set(defects) & _BROKEN_STRUCTURE)
    if broken:
        raise MalformedMail(f"broken MIME structure: {', '.join(broken)}")
    try:
        addresses = message["From"].addresses if message["From"] is not None else ()
        sender = unescape(addresses[0].addr_spec).lower() if addresses else ""
        sender_name = unescape(addresses[0].display_name) if addresses else ""
        subject = unescape(" ".join(str(message.get("Subject", "") or "").split()))
        in_reply_to = _ids(str(message.get("In-Reply-To", "") or ""))
        references = _ids(str(message.get("References", "") or ""))
        date = message.get("Date")
        sent_at = date.datetime if date is not None and getattr(date, "datetime", None) else None
    except Exception as e:
        raise MalformedMail(f"unreadable header: {type(e).__name__}: {e}") from e
    if "@" not in sender:
        sender = ""
    try:
        text, attachments = _body_and_attachments(message)
    except Exception as e:
        raise MalformedMail(f"unreadable body: {type(e).__name__}: {e}") from e
    if sent_at is not None and sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=dt.UTC)
    return ParsedMail(
        message_id=message_id_of(raw),
        sender=sender[:300],
        sender_name=sender_name[:300],
        subject=subject[:300],
        text=text,
        sent_at=sent_at,
        references=list(dict.fromkeys([*reversed(in_reply_to), *reversed(references)])),
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        attachments=attachments,
        automatic=_automatic(message, sender),
        defects=defects,
    )
