"""Pages of the scope of work (MNT-03, MNT-04): a contract's catalogue (the provider's staff
keep it, the client reads it), and the request page's classification and work log (the parts
``desk/parts/classify.html`` and ``work.html`` post here). Every write goes through its
service (:mod:`mamori.desk.catalogue`, ``classify``, ``work``)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mamori.clients.forms import REQUIRED, form_class
from mamori.clients.models import Contract
from mamori.core.permissions import may_change
from mamori.desk import catalogue, classify, work
from mamori.desk.models import CatalogueItem, Request, Scope, WorkLog
from mamori.desk.services import DeskError
from mamori.inventory.services import Referenced, Refused

ItemForm = form_class(CatalogueItem, catalogue.ITEM_FIELDS)


def _contract(request: HttpRequest, pk: int, *, write: bool = False) -> Contract:
    contract = get_object_or_404(
        Contract.objects.visible_to(request.user).select_related("client", "terms_profile"), pk=pk
    )
    if write and not may_change(request.user, contract.client, CatalogueItem.change_rule):
        raise PermissionDenied
    return contract


def _back_to(contract: Contract) -> str:
    return reverse("contract_catalogue", args=[contract.pk])


@login_required
def contract_catalogue(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk)
    month = classify.month_of(timezone.now())
    used = {a.item.pk: a for a in classify.allowance(contract, month)}
    items = list(CatalogueItem.objects.visible_to(request.user).filter(contract=contract))
    for item in items:
        item.allowance = used.get(item.pk)
    context = {
        "contract": contract,
        "client": contract.client,
        "in_scope": [i for i in items if i.scope == Scope.IN_SCOPE],
        "out_of_scope": [i for i in items if i.scope == Scope.OUT_OF_SCOPE],
        "month": month,
        "may_change": may_change(request.user, contract.client, CatalogueItem.change_rule),
        "shipped": catalogue.shipped_code(contract),
    }
    return render(request, "desk/catalogue.html", context)


@login_required
@require_POST
def catalogue_apply(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk, write=True)
    try:
        created = catalogue.apply_shipped_catalogue(contract, request.user, request=request)
    except (DeskError, Refused) as e:
        messages.error(request, str(e))
    else:
        messages.success(
            request,
            _("%(n)d items added from the shipped catalogue.") % {"n": len(created)}
            if created
            else _("The contract already has every item of the shipped catalogue."),
        )
    return redirect(_back_to(contract))


@login_required
def catalogue_item_add(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk, write=True)
    form = ItemForm(request.POST or None, initial={"scope": Scope.IN_SCOPE})
    if request.method == "POST" and form.is_valid():
        try:
            catalogue.create_item(request.user, contract, form.values(), request=request)
        except (ValidationError, Refused) as e:
            form.refused(e)
        else:
            messages.success(request, _("The item was added to the catalogue."))
            return redirect(_back_to(contract))
    return render(
        request, "desk/catalogue_item_form.html", {"form": form, "contract": contract, "item": None}
    )


def _item(request: HttpRequest, pk: int) -> CatalogueItem:
    item = get_object_or_404(
        CatalogueItem.objects.visible_to(request.user).select_related("contract__client"), pk=pk
    )
    if not may_change(request.user, item):
        raise PermissionDenied
    return item


@login_required
def catalogue_item_edit(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    contract = item.contract
    form = ItemForm(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        try:
            changed = catalogue.change_item(request.user, item, form.values(), request=request)
        except (ValidationError, Refused) as e:
            form.refused(e)
        else:
            messages.success(
                request, _("The item was saved.") if changed else _("Nothing was changed.")
            )
            return redirect(_back_to(contract))
    return render(
        request, "desk/catalogue_item_form.html", {"form": form, "contract": contract, "item": item}
    )


@login_required
def catalogue_item_delete(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    contract = item.contract
    problem = ""
    if request.method == "POST":
        try:
            catalogue.delete_item(request.user, item, request=request)
        except (Referenced, Refused) as e:
            problem = str(e)
        else:
            messages.success(request, _("The item was deleted."))
            return redirect(_back_to(contract))
    return render(
        request,
        "desk/catalogue_item_delete.html",
        {"item": item, "contract": contract, "problem": problem},
        status=409 if problem else 200,
    )


# --- the request page's parts ------------------------------------------------------------------


def _request(request: HttpRequest, pk: int) -> Request:
    return get_object_or_404(
        Request.objects.visible_to(request.user).select_related("client", "contract"), pk=pk
    )


@login_required
@require_POST
def request_classify(request: HttpRequest, pk: int) -> HttpResponse:
    """The operator's decision: ``choice`` is an item's id or ``out_of_scope``; ``over_limit``
    confirms going beyond the item's monthly allowance."""
    req = _request(request, pk)
    if not may_change(request.user, req):
        raise PermissionDenied
    choice: CatalogueItem | str = request.POST.get("choice", "")
    if str(choice).isdigit():
        choice = (
            CatalogueItem.objects.filter(pk=int(choice), contract=req.contract_id).first() or ""
        )
    try:
        classify.classify(
            req,
            choice,
            request.user,
            over_limit=bool(request.POST.get("over_limit")),
            http_request=request,
        )
    except DeskError as e:
        messages.error(request, str(e))
    else:
        if getattr(req, "over_limit", False):
            messages.warning(
                request,
                _("Classified beyond the monthly allowance of %(item)s.")
                % {"item": req.catalogue_item.display_name()},
            )
        else:
            messages.success(
                request,
                _("The request was classified: %(scope)s.") % {"scope": req.get_scope_display()},
            )
    return redirect(req.get_absolute_url() + "#classify")


class WorkForm(forms.Form):
    minutes = forms.IntegerField(
        label=gettext_lazy("Time spent (minutes)"), min_value=1, max_value=24 * 60
    )
    at = forms.DateTimeField(
        label=gettext_lazy("When"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text=gettext_lazy("Empty: now."),
    )
    text = forms.CharField(
        label=gettext_lazy("What was done"), widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.error_messages["required"] = REQUIRED


@login_required
@require_POST
def work_add(request: HttpRequest, pk: int) -> HttpResponse:
    req = _request(request, pk)
    if not work.may_log(request.user, req):
        raise PermissionDenied
    form = WorkForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, _("The work was not logged: %(errors)s") % {"errors": _errors(form)}
        )
        return redirect(req.get_absolute_url() + "#work")
    data = form.cleaned_data
    try:
        work.log_work(
            req, data["minutes"], data["text"], data["at"], request.user, http_request=request
        )
    except DeskError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, _("%(n)d minutes logged.") % {"n": data["minutes"]})
    return redirect(req.get_absolute_url() + "#work")


def _errors(form: forms.Form) -> str:
    return " ".join(
        f"{form.fields[name].label if name in form.fields else ''}: {' '.join(errors)}".lstrip(": ")
        for name, errors in form.errors.items()
    )


def _entry(request: HttpRequest, pk: int) -> WorkLog:
    entry = get_object_or_404(
        WorkLog.objects.visible_to(request.user).select_related("request__client", "user"), pk=pk
    )
    if not work.may_edit_entry(request.user, entry):
        raise PermissionDenied
    return entry


@login_required
def work_edit(request: HttpRequest, pk: int) -> HttpResponse:
    entry = _entry(request, pk)
    req = entry.request
    initial = {
        "minutes": entry.minutes,
        "text": entry.text,
        "at": timezone.localtime(entry.at).replace(tzinfo=None, second=0, microsecond=0),
    }
    form = WorkForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            work.change_work(
                entry,
                request.user,
                minutes=data["minutes"],
                text=data["text"],
                at=data["at"] or entry.at,
                http_request=request,
            )
        except DeskError as e:
            form.add_error(e.field if e.field in form.fields else None, str(e))
        else:
            messages.success(request, _("The work log entry was saved."))
            return redirect(req.get_absolute_url() + "#work")
    return render(request, "desk/work_form.html", {"form": form, "entry": entry, "req": req})


@login_required
@require_POST
def work_delete(request: HttpRequest, pk: int) -> HttpResponse:
    entry = _entry(request, pk)
    req = entry.request
    work.delete_work(entry, request.user, http_request=request)
    messages.success(request, _("The work log entry was deleted."))
    return redirect(req.get_absolute_url() + "#work")
