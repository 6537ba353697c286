"""The desk's mailbox (MNT-03): where the poll is in the IMAP mailbox, and every e-mail it took
from it with what became of it. Loaded by :mod:`mamori.desk.models`."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DeskMailbox(models.Model):
    """The poll's place in one IMAP folder (``name`` is ``user@host:port/folder``, never the
    password): the folder's UIDVALIDITY and the highest UID already handled. A lease lets one
    process poll at a time."""

    name = models.CharField(max_length=300, unique=True)
    uidvalidity = models.PositiveBigIntegerField(null=True, blank=True)
    last_uid = models.PositiveBigIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=32, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("desk mailbox")
        verbose_name_plural = _("desk mailboxes")

    def __str__(self) -> str:
        return self.name


class MailOutcome(models.TextChoices):
    REQUEST = "request", _("Made a new request")
    REPLY = "reply", _("Added to a request")
    UNMATCHED = "unmatched", _("Not matched")
    IGNORED = "ignored", _("Ignored (automatic)")
    FAILED = "failed", _("Could not be read")
    ASSIGNED = "assigned", _("Assigned to a client")


#: Outcomes an operator still has to look at.
OPEN_OUTCOMES = (MailOutcome.UNMATCHED, MailOutcome.FAILED)


class MailReason(models.TextChoices):
    """Why an e-mail did not become a request or a reply (codes, worded in the reader's
    language)."""

    UNKNOWN_SENDER = "unknown_sender", _("The sender is no client's contact.")
    AMBIGUOUS_SENDER = "ambiguous_sender", _("The sender is a contact of several clients.")
    OTHER_CLIENT = "other_client", _("It answers a request of another client than the sender's.")
    NO_SENDER = "no_sender", _("It has no sender address.")
    AUTO_REPLY = "auto_reply", _("An automatic reply.")
    BOUNCE = "bounce", _("A delivery failure report (bounce).")
    MALFORMED = "malformed", _("The message is malformed.")
    EMPTY = "empty", _("The message has neither subject nor text.")


class InboundMail(models.Model):
    """One e-mail the poll took from the desk's mailbox, by Message-ID (unique: the same mail
    delivered or fetched again is recognised), and what became of it. The raw message is kept
    while an operator still has to assign it (``UNMATCHED``, ``FAILED``) and dropped once it is
    a request; the mailbox itself keeps every mail (the poll never deletes)."""

    message_id = models.CharField(max_length=998, unique=True)
    mailbox = models.CharField(max_length=300, blank=True)
    uidvalidity = models.PositiveBigIntegerField(null=True, blank=True)
    uid = models.PositiveBigIntegerField(null=True, blank=True)
    received_at = models.DateTimeField(_("arrived"), default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(_("dated"), null=True, blank=True)
    sender = models.CharField(_("from"), max_length=300, blank=True)
    sender_name = models.CharField(max_length=300, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    outcome = models.CharField(_("what became of it"), max_length=10, choices=MailOutcome.choices)
    reason = models.CharField(_("reason"), max_length=20, choices=MailReason.choices, blank=True)
    # Technical particulars of a failure (the parser's words, a file too large), not a sentence.
    detail = models.CharField(max_length=500, blank=True)
    request = models.ForeignKey(
        "desk.Request",
        verbose_name=_("request"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="mails",
    )
    size = models.PositiveBigIntegerField(default=0)
    raw = models.BinaryField(null=True, blank=True, editable=False)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("desk e-mail")
        verbose_name_plural = _("desk e-mails")
        indexes = [models.Index(fields=["outcome", "received_at"], name="inbound_mail_outcome")]

    def __str__(self) -> str:
        return f"{self.sender} {self.subject}"
