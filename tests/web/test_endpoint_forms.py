"""Adding, changing, deleting and checking endpoints from the web pages, with the audit trail."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.core.models import AuditEvent
from mamori.inventory.models import Endpoint, Site

pytestmark = pytest.mark.req("ACC-03")


def form_data(scene, **changes) -> dict:
    data = {
        "client": scene.acme.pk,
        "host": "api.acme.example",
        "port": "443",
        "sni": "",
        "site": scene.site.pk,
        "server": scene.server.pk,
        "contract": "",
        "check_interval": "",
        "enabled": "on",
        "trust_bundle": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_it_adds_an_endpoint_and_records_who_did_it(scene, owner, client):
    client.force_login(owner)
    response = client.post(reverse("endpoint_add"), form_data(scene, host=" API.Acme.Example "))
    endpoint = Endpoint.objects.get(host="api.acme.example")
    assert response.status_code == 302
    assert response["Location"] == endpoint.get_absolute_url()
    assert endpoint.client == scene.acme
    assert endpoint.site == scene.site
    assert endpoint.next_check_at <= timezone.now()
    event = AuditEvent.objects.get(action="endpoint.create")
    assert event.actor == owner
    assert event.client_id == scene.acme.pk
    assert event.object_id == str(endpoint.pk)
    assert event.changes["host"] == "api.acme.example"
    assert event.source_ip == "127.0.0.1"


def test_it_shows_validation_errors_next_to_the_field(scene, owner, client):
    client.force_login(owner)
    response = client.post(reverse("endpoint_add"), form_data(scene, port="70000"))
    assert response.status_code == 200
    body = response.content.decode()
    field = body.split('id="field-port"')[1].split('id="field-sni"')[0]
    assert "has-error" in body.split('id="field-port"')[0][-80:]
    assert 'class="errors"' in field
    assert not Endpoint.objects.filter(host="api.acme.example").exists()
    assert not AuditEvent.objects.exclude(action="login").exists()  # only the sign-in


def test_it_refuses_a_duplicate_endpoint(scene, owner, client):
    client.force_login(owner)
    response = client.post(reverse("endpoint_add"), form_data(scene, host="shop.acme.example"))
    assert response.status_code == 200
    assert 'class="form-errors"' in response.content.decode()
    assert Endpoint.objects.filter(host="shop.acme.example").count() == 1


def test_it_offers_only_the_chosen_clients_sites(scene, operator, client):
    other_site = Site.objects.create(
        client=scene.globex, name="Globex web", url="https://globex.example/"
    )
    client.force_login(operator)
    response = client.get(
        reverse("endpoint_add"), {"client": scene.acme.pk}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "<html" not in body  # the htmx partial: just the client-dependent fields
    assert "コーポレートサイト" in body
    assert "Globex web" not in body
    response = client.post(reverse("endpoint_add"), form_data(scene, site=other_site.pk))
    assert response.status_code == 200
    assert 'id="field-site"' in response.content.decode()
    assert not Endpoint.objects.filter(host="api.acme.example").exists()


def test_it_offers_a_client_user_only_their_client(scene, owner, client):
    client.force_login(owner)
    body = client.get(reverse("endpoint_add")).content.decode()
    assert f'<option value="{scene.acme.pk}" selected>' in body
    assert "Globex" not in body


def test_it_changes_an_endpoint_and_records_the_difference(scene, owner, client):
    endpoint = scene.problem_endpoint
    Endpoint.objects.filter(pk=endpoint.pk).update(
        next_check_at=timezone.now() + dt.timedelta(hours=5)
    )
    client.force_login(owner)
    response = client.post(
        reverse("endpoint_edit", args=[endpoint.pk]),
        form_data(scene, host="shop.acme.example", port="8443"),
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.port == 8443
    # It serves something else now: check it again at once.
    assert endpoint.next_check_at <= timezone.now()
    event = AuditEvent.objects.get(action="endpoint.update")
    assert event.changes == {"port": [443, 8443]}
    assert event.actor == owner


def test_it_deletes_an_endpoint_after_confirmation(scene, owner, client):
    endpoint = scene.problem_endpoint
    client.force_login(owner)
    url = reverse("endpoint_delete", args=[endpoint.pk])
    confirmation = client.get(url)
    assert "shop.acme.example" in confirmation.content.decode()
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == scene.acme.get_absolute_url()
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    event = AuditEvent.objects.get(action="endpoint.delete")
    assert event.object_id == str(endpoint.pk)
    assert event.client_id == scene.acme.pk


def test_it_checks_an_endpoint_now_with_an_htmx_partial(scene, owner, client):
    endpoint = scene.problem_endpoint
    Endpoint.objects.filter(pk=endpoint.pk).update(
        next_check_at=timezone.now() + dt.timedelta(hours=5)
    )
    client.force_login(owner)
    response = client.post(
        reverse("endpoint_check", args=[endpoint.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert "チェックを依頼しました" in body
    endpoint.refresh_from_db()
    assert endpoint.next_check_at <= timezone.now()
    assert AuditEvent.objects.filter(action="endpoint.check_requested", actor=owner).exists()


def test_it_checks_an_endpoint_now_without_javascript_too(scene, owner, client):
    client.force_login(owner)
    response = client.post(reverse("endpoint_check", args=[scene.problem_endpoint.pk]))
    assert response.status_code == 302
    assert response["Location"] == scene.problem_endpoint.get_absolute_url()


def test_it_refuses_check_now_by_get(scene, owner, client):
    client.force_login(owner)
    assert (
        client.get(reverse("endpoint_check", args=[scene.problem_endpoint.pk])).status_code == 405
    )


def test_it_hides_edit_buttons_from_viewers(scene, member, client):
    client.force_login(member)
    body = client.get(scene.problem_endpoint.get_absolute_url()).content.decode()
    assert reverse("endpoint_edit", args=[scene.problem_endpoint.pk]) not in body
    assert reverse("endpoint_check", args=[scene.problem_endpoint.pk]) not in body


# --- the host as the inventory import reads it (issue 15) ----------------------------------------


def test_a_url_pasted_as_the_host_gives_its_host_and_says_so(scene, owner, client):
    from django.contrib.messages import get_messages

    client.force_login(owner)
    data = form_data(scene, host="https://API.acme.example:8443/shop")
    response = client.post(reverse("endpoint_add"), data)
    assert response.status_code == 302
    endpoint = Endpoint.objects.get(client=scene.acme, host="api.acme.example")
    assert endpoint.port == 8443
    assert not Endpoint.objects.filter(host__contains="/").exists()
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("https://API.acme.example:8443/shop" in m and "api.acme.example" in m for m in shown)


@pytest.mark.parametrize("host", ["bad host name!!", "ftp://files.acme.example/", "a..b"])
def test_a_host_the_import_refuses_is_refused_with_the_imports_message(scene, owner, client, host):
    from django.core.exceptions import ValidationError

    from mamori.inventory.services import normalised

    with pytest.raises(ValidationError) as caught:
        normalised("endpoints", {"host": host})
    client.force_login(owner)
    response = client.post(reverse("endpoint_add"), form_data(scene, host=host))
    assert response.status_code == 200
    assert response.context["form"].errors["host"] == caught.value.message_dict["host"]
    assert not Endpoint.objects.filter(client=scene.acme, host__contains="acme.example/").exists()
    assert not AuditEvent.objects.filter(action="endpoint.create").exists()


def test_a_site_of_another_client_is_refused_at_its_field(scene, owner, operator, client):
    other = Site.objects.create(client=scene.globex, name="G", url="https://g.globex.example/")
    client.force_login(operator)
    response = client.post(reverse("endpoint_add"), form_data(scene, site=other.pk))
    assert response.status_code == 200
    assert response.context["form"].errors["site"]


def test_an_endpoint_stays_with_its_client_and_a_change_is_audited_once(scene, owner, client):
    endpoint = scene.problem_endpoint
    client.force_login(owner)
    data = form_data(scene, client=scene.globex.pk, host=endpoint.host, port=str(endpoint.port))
    data["check_interval"] = "3600"
    response = client.post(reverse("endpoint_edit", args=[endpoint.pk]), data)
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.client == scene.acme and endpoint.check_interval == 3600
    event = AuditEvent.objects.get(action="endpoint.update")
    assert event.changes["check_interval"] == [None, 3600]
    assert "client" not in event.changes
