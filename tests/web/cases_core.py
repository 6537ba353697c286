"""Tenancy cases for the URLs of the foundation (see tests/web/tenancy.py)."""

from tests.web.tenancy import ACTION, FORM, LIST, PAGE, Case

# URLs that are not about a client's data, with the reason.
EXEMPT = {
    "login": "the sign-in page is public",
    "logout": "acts on the caller's own session only",
    "set_language": "changes the caller's own preference only",
}


def endpoint_data(s) -> dict:
    return {
        "client": s.acme.pk,
        "host": "new.acme.example",
        "port": 443,
        "sni": "",
        "site": s.site.pk,
        "enabled": "on",
    }


CASES: dict[str, Case] = {
    "dashboard": Case(LIST),
    "client_list": Case(LIST),
    "client_detail": Case(PAGE, lambda s: {"code": s.acme.code}),
    "certificate_list": Case(LIST),
    "certificate_detail": Case(PAGE, lambda s: {"fingerprint": s.expiring_cert.fingerprint_sha256}),
    "certificate_pem": Case(PAGE, lambda s: {"fingerprint": s.expiring_cert.fingerprint_sha256}),
    "endpoint_list": Case(LIST),
    "endpoint_detail": Case(PAGE, lambda s: {"pk": s.problem_endpoint.pk}),
    "endpoint_add": Case(FORM, post=endpoint_data),
    "endpoint_edit": Case(
        FORM,
        lambda s: {"pk": s.problem_endpoint.pk},
        post=lambda s: {**endpoint_data(s), "host": "shop2.acme.example"},
    ),
    "endpoint_delete": Case(FORM, lambda s: {"pk": s.problem_endpoint.pk}, post=lambda s: {}),
    "endpoint_check": Case(ACTION, lambda s: {"pk": s.problem_endpoint.pk}, post=lambda s: {}),
    "inventory_import": Case(FORM, post=lambda s: {}),
    "notice_list": Case(LIST),
    "notice_detail": Case(PAGE, lambda s: {"pk": s.notice.pk}),
}
