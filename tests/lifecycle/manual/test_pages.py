"""The order page and its commercial-CA actions through the web (CERT-07, CERT-08, CERT-15)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mamori.lifecycle import keys
from mamori.lifecycle.models import Order, OrderAttachment, OrderState
from tests.lifecycle.manual.conftest import sign_csr

pytestmark = pytest.mark.django_db(databases=["default", "keystore"])


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.req("CERT-07")
@pytest.mark.req("CERT-08")
def test_staff_work_a_commercial_order_from_its_page(
    client, managed, subcontractor, owner, commercial_ca
):
    client.force_login(subcontractor)
    response = client.post(reverse("order_new", args=[managed.pk]))
    order = Order.objects.get(managed=managed)
    assert response.status_code == 302 and response["Location"] == order.get_absolute_url()

    csr = client.post(reverse("order_csr", args=[order.pk]))
    assert csr.status_code == 200
    assert csr.content.decode() == order.csr_pem
    assert "attachment" in csr["Content-Disposition"]

    document = SimpleUploadedFile("registry.pdf", b"%PDF registry", content_type="application/pdf")
    response = client.post(
        reverse("order_message", args=[order.pk]),
        {"direction": "sent", "subject": "Application", "files": [document]},
    )
    assert response.status_code == 302
    attachment = OrderAttachment.objects.get(message__order=order)
    download = client.post(reverse("order_attachment", args=[attachment.pk]))
    assert download.content == b"%PDF registry"

    client.post(reverse("order_step", args=[order.pk]), {"step": "apply", "ca_reference": "ET-9"})
    order.refresh_from_db()
    assert order.state == OrderState.APPLIED

    # A certificate for another key: the page says precisely why it is refused.
    stranger = keys.make_csr(keys.generate_key("ec256"), order.names).decode()
    response = client.post(
        reverse("order_upload", args=[order.pk]), {"pem": sign_csr(commercial_ca, stranger)}
    )
    assert response.status_code == 200
    assert "not for this private key" in response.content.decode()
    response = client.post(
        reverse("order_upload", args=[order.pk]), {"pem": sign_csr(commercial_ca, order.csr_pem)}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.state == OrderState.ISSUED

    client.post(reverse("order_fee", args=[order.pk]), {"amount": "12000", "currency": "JPY"})
    page = client.get(order.get_absolute_url()).content.decode()
    assert "12000" in page and "ET-9" in page and "registry.pdf" in page

    # The client's administrator sees the order but cannot act on it or read its documents.
    client.force_login(owner)
    assert client.get(order.get_absolute_url()).status_code == 200
    assert client.post(reverse("order_attachment", args=[attachment.pk])).status_code == 403
