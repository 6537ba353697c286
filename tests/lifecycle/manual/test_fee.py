"""A CA fee out of range (issue 13): refused with a precise error, and one already stored does
not break the pages and API routes that show orders (CERT-15)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.lifecycle.models import Order
from tests.web.cases_lifecycle_orders import acme_order
from tests.web.conftest import fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.req("CERT-15")


def bearer(client, user):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {create_token(user, 'test')[1]}"
    return client


def post_fee(client, order, body):
    return client.post(f"/api/v1/orders/{order.pk}/fee", body, content_type="application/json")


def test_the_api_refuses_a_fee_beyond_the_orders_digits_and_stores_nothing(acme, operator, client):
    order = acme_order()
    response = post_fee(bearer(client, operator), order, {"amount": 1e16})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "payload", "amount"]
    assert "12 digits" in error["msg"]
    order.refresh_from_db()
    assert order.fee_amount is None and order.fee_recorded_at is None
    assert not AuditEvent.objects.filter(action="order.fee").exists()
    # Everything that lists the order still answers.
    assert client.get(f"/api/v1/orders/{order.pk}").status_code == 200
    assert client.get("/api/v1/managed-certificates").status_code == 200


@pytest.mark.parametrize(
    ("amount", "field", "words"),
    [
        ("12345678901.00", "amount", "10 digits before the decimal point"),
        ("100.005", "amount", "2 decimal places"),
        ("1E+400", "amount", "12 digits"),
    ],
)
def test_the_api_says_precisely_what_is_wrong_with_the_amount(
    acme, operator, client, amount, field, words
):
    order = acme_order()
    response = post_fee(bearer(client, operator), order, {"amount": amount})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"][-1] == field and words in error["msg"], error
    assert Order.objects.get(pk=order.pk).fee_amount is None


def test_a_stored_fee_out_of_range_shows_and_can_be_corrected(acme, operator, owner, client):
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite stores a number beyond the column's precision")
    order = acme_order()
    # As the attack left it (SQLite keeps whatever number it is given).
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE lifecycle_order SET fee_amount = %s, fee_currency = 'JPY' WHERE id = %s",
            [10**16, order.pk],
        )
    managed = order.managed
    for user in (operator, owner):
        client.force_login(user)
        for page in (
            reverse("managed_list"),
            managed.get_absolute_url(),
            order.get_absolute_url(),
        ):
            response = client.get(page)
            assert response.status_code == 200, (user, page)
        # Shown as money is (¥10,000,000,000,000,000 or 10,000,000,000,000,000円).
        assert "10,000,000,000,000,000" in client.get(order.get_absolute_url()).content.decode()
        client.logout()
        bearer(client, user)
        for route in (
            "/api/v1/managed-certificates",
            f"/api/v1/managed-certificates/{managed.pk}",
            f"/api/v1/orders/{order.pk}",
            "/api/v1/clients/acme/orders",
        ):
            response = client.get(route)
            assert response.status_code == 200, (user, route, response.content)
        assert (
            client.get(f"/api/v1/orders/{order.pk}").json()["fee_amount"] == "10000000000000000.00"
        )
        del client.defaults["HTTP_AUTHORIZATION"]

    # The operator corrects it, on the page or through the API.
    client.force_login(operator)
    client.post(reverse("order_fee", args=[order.pk]), {"amount": "33000", "currency": "JPY"})
    assert Order.objects.get(pk=order.pk).fee_amount == Decimal("33000.00")
    response = post_fee(bearer(client, operator), order, {"amount": "34000.5", "note": "OV"})
    assert response.status_code == 200
    assert response.json()["fee_amount"] == "34000.50"
