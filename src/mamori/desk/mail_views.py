"""The desk's unmatched e-mail (MNT-03): mail the poll could not match to a client or could not
read, waiting for an operator to assign it to a client (docs/desk-mail.md).

Such mail may be anyone's, so only provider staff who see every client (administrators and
operators) see and assign it; everyone else gets 403.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mamori.clients.models import Client
from mamori.desk import mailbox, services
from mamori.desk.mail_models import OPEN_OUTCOMES, InboundMail


def _require_staff(request: HttpRequest) -> None:
    if not mailbox.may_assign(request.user):
        raise PermissionDenied


@login_required
def desk_mail_list(request: HttpRequest) -> HttpResponse:
    _require_staff(request)
    waiting = InboundMail.objects.filter(outcome__in=OPEN_OUTCOMES).order_by("-received_at", "-pk")
    recent = InboundMail.objects.exclude(outcome__in=OPEN_OUTCOMES).select_related("request")
    context = {
        "waiting": waiting[:200],
        "recent": recent.order_by("-received_at", "-pk")[:50],
        "clients": Client.objects.visible_to(request.user).order_by("code"),
        "configured": bool(getattr(settings, "MAMORI_DESK_IMAP_URL", "")),
    }
    return render(request, "desk/mail_list.html", context)


@login_required
@require_POST
def desk_mail_assign(request: HttpRequest, pk: int) -> HttpResponse:
    _require_staff(request)
    mail = get_object_or_404(InboundMail, pk=pk)
    client = Client.objects.visible_to(request.user).filter(code=request.POST.get("client")).first()
    if client is None:
        messages.error(request, _("Choose the client the e-mail is from."))
        return redirect("desk_mail_list")
    if mail.outcome not in OPEN_OUTCOMES:
        messages.error(request, _("This e-mail has been handled already."))
        return redirect("desk_mail_list")
    try:
        req = mailbox.assign(mail, client, actor=request.user, http_request=request)
    except services.DeskError as e:
        messages.error(request, str(e))
        return redirect("desk_mail_list")
    messages.success(
        request,
        _("The e-mail is now request %(number)s of %(client)s.")
        % {"number": req.number, "client": client.name},
    )
    return redirect("desk_mail_list")
