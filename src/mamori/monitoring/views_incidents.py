"""Incident pages (being built)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path

from mamori.monitoring.models import Incident


@login_required
def incident_detail(request, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident.objects.visible_to(request.user), pk=pk)
    return HttpResponse(incident.title)


urlpatterns = [path("incidents/<int:pk>/", incident_detail, name="incident_detail")]
