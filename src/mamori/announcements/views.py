"""Pages of announcements (NOT-04): the list (the provider's, or a client's own in the portal),
a draft's form, its preview of recipients and the send button, and the notice periods."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mamori.announcements import services
from mamori.announcements.forms import AnnouncementForm, initial_of
from mamori.announcements.models import (
    Announcement,
    AnnouncementKind,
    NoticePeriod,
    Recipient,
)
from mamori.clients.models import ContractType, TermsProfile


def _errors_to_form(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            for message in errors:
                form.add_error(name if name in form.fields else None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def _visible_clients(request: HttpRequest, announcement: Announcement):
    return (
        Recipient.objects.visible_to(request.user)
        .filter(announcement=announcement)
        .select_related("client")
    )


@login_required
def announcement_list(request: HttpRequest) -> HttpResponse:
    announcements = Announcement.objects.visible_to(request.user).prefetch_related(
        "recipients__client"
    )
    page = Paginator(announcements, 50).get_page(request.GET.get("page"))
    staff_view = services.may_announce(request.user)
    rows = []
    for a in page.object_list:
        clients = [r.client for r in a.recipients.all()]
        if not staff_view:
            seen = set(
                Recipient.objects.visible_to(request.user)
                .filter(announcement=a)
                .values_list("client_id", flat=True)
            )
            clients = [c for c in clients if c.pk in seen]
        rows.append((a, clients[:3], max(0, len(clients) - 3)))
    return render(
        request,
        "announcements/list.html",
        {"page": page, "rows": rows, "may_announce": staff_view},
    )


@login_required
def announcement_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    announcement = None
    if pk is not None:
        announcement = get_object_or_404(Announcement.objects.visible_to(request.user), pk=pk)
    if not services.may_announce(request.user):
        raise PermissionDenied
    if announcement is not None and not announcement.is_draft:
        messages.error(request, _("This announcement has been sent and can no longer be changed."))
        return redirect(announcement.get_absolute_url())
    initial = initial_of(announcement) if announcement else {}
    form = AnnouncementForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if announcement is None:
                announcement = services.create(
                    form.cleaned_data, actor=request.user, request=request
                )
            else:
                services.update(
                    announcement, form.cleaned_data, actor=request.user, request=request
                )
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("The draft is saved. Check its recipients, then send it."))
            return redirect(announcement.get_absolute_url())
    return render(
        request,
        "announcements/form.html",
        {"form": form, "announcement": announcement},
        status=400 if form.errors else 200,
    )


@login_required
def announcement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    announcement = get_object_or_404(Announcement.objects.visible_to(request.user), pk=pk)
    staff_view = services.may_announce(request.user)
    context = {"announcement": announcement, "may_announce": staff_view}
    if staff_view:
        context["preview"] = services.preview(announcement)
        context["profiles"] = announcement.terms_profiles.all()
        context["types"] = [
            ContractType(t).label for t in announcement.contract_types if t in ContractType.values
        ]
        context["servers"] = announcement.servers.select_related("client")
    else:
        context["received"] = _visible_clients(request, announcement)
    return render(request, "announcements/detail.html", context)


@login_required
@require_POST
def announcement_send(request: HttpRequest, pk: int) -> HttpResponse:
    announcement = get_object_or_404(Announcement.objects.visible_to(request.user), pk=pk)
    if not services.may_announce(request.user):
        raise PermissionDenied
    try:
        result = services.send(announcement, actor=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(announcement.get_absolute_url())
    if result.already_sent:
        messages.info(request, _("This announcement was sent already: nothing more was sent."))
    else:
        messages.success(
            request,
            _("Sent to %(clients)d clients: %(notices)d notices queued.")
            % {"clients": result.clients, "notices": result.notices},
        )
    return redirect(announcement.get_absolute_url())


@login_required
def period_list(request: HttpRequest) -> HttpResponse:
    """The notice period of each kind of announcement for each terms profile; provider
    administrators and operators change them here."""
    if not services.may_announce(request.user):
        raise PermissionDenied
    profiles = list(TermsProfile.objects.order_by("code"))
    table = {(p.terms_profile_id, p.kind): p for p in NoticePeriod.objects.all()}
    kinds = list(AnnouncementKind)
    errors: list[str] = []
    if request.method == "POST":
        for profile in profiles:
            for kind in kinds:
                name = f"p{profile.pk}_{kind.value}"
                current = table.get((profile.pk, kind.value))
                if f"{name}_days" not in request.POST and f"{name}_months" not in request.POST:
                    continue  # not on the form that was sent: left as it is
                raw_days = request.POST.get(f"{name}_days", "").strip() or (
                    str(current.days) if current else "0"
                )
                raw_months = request.POST.get(f"{name}_months", "").strip() or (
                    str(current.months) if current else "0"
                )
                if not (raw_days.isdigit() and raw_months.isdigit()):
                    errors.append(
                        _("%(profile)s, %(kind)s: enter whole numbers.")
                        % {"profile": profile.display_name(), "kind": kind.label}
                    )
                    continue
                days, months = int(raw_days), int(raw_months)
                if current is None and days == 0 and months == 0:
                    continue
                if current is not None and (current.days, current.months) == (days, months):
                    continue
                try:
                    services.set_period(
                        profile,
                        kind.value,
                        days=days,
                        months=months,
                        actor=request.user,
                        request=request,
                    )
                except ValidationError as exc:
                    errors.append(
                        f"{profile.display_name()}, {kind.label}: {' '.join(exc.messages)}"
                    )
        if not errors:
            messages.success(request, _("The notice periods are saved."))
            return redirect("announcement_periods")
        table = {(p.terms_profile_id, p.kind): p for p in NoticePeriod.objects.all()}
    rows = [
        (profile, [(kind, table.get((profile.pk, kind.value))) for kind in kinds])
        for profile in profiles
    ]
    return render(
        request,
        "announcements/periods.html",
        {"rows": rows, "kinds": kinds, "errors": errors},
        status=400 if errors else 200,
    )
