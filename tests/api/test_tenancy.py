"""Tenancy of every API operation (ACC-01), generated from the API's own OpenAPI document.

Each operation's path parameters are filled with one of ``acme``'s objects (``PARAMETERS``) and
each request body comes from ``BODIES``; an operation with a parameter or a body not described
here fails ``test_it_can_fill_in_every_operation``, so a new route cannot be forgotten. Every
operation is then called with the bearer token of the owner (client admin of acme), the member
(viewer of acme) and the outsider (admin of globex), and without any credentials.
"""

# ruff: noqa: F811 (test arguments name the fixtures imported below)

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from mamori.api.api import api
from mamori.clients.models import Contact, Contract, ContractNotice, TermsProfile
from mamori.core import audit
from mamori.core.tokens import create_token
from mamori.inventory.models import Domain, Endpoint, Server, Site
from tests.web.cases_advisories import acme_update
from tests.web.cases_announcements import acme_announcement
from tests.web.cases_backups import acme_backup_job
from tests.web.cases_desk_hours import spare_closed_day
from tests.web.cases_desk_requests import acme_attachment, acme_request
from tests.web.cases_desk_scope import acme_item, acme_work
from tests.web.cases_desk_waits import acme_data_incident
from tests.web.cases_estimates import acme_estimate
from tests.web.cases_lifecycle_acme import acme_account
from tests.web.cases_lifecycle_deploy import HOST_KEY, acme_deployment, acme_target
from tests.web.cases_lifecycle_managed import acme_approval, acme_managed
from tests.web.cases_lifecycle_orders import acme_order, issued_for_acme_order
from tests.web.cases_lifecycle_tasks import acme_revocation, acme_task
from tests.web.cases_monitoring_checks import acme_check
from tests.web.cases_monitoring_incidents import acme_incident
from tests.web.cases_monitoring_maintenance import acme_window
from tests.web.cases_monitoring_sla import acme_credit
from tests.web.cases_payments import acme_change, acme_invoice
from tests.web.cases_reports import acme_report
from tests.web.cases_software import HOST_KEY as SOFTWARE_HOST_KEY
from tests.web.cases_software import acme_account_event
from tests.web.cases_vault import acme_secret

# The page tests' fixtures (a scene of two clients' data); pytest finds them here.
from tests.web.conftest import fast_password_hashing, scene, test_ca  # noqa: F401

pytestmark = pytest.mark.req("ACC-01")


def announcement_body() -> dict:
    """A maintenance announcement a month ahead (no notice period is longer for it)."""
    from django.utils import timezone

    return {
        "kind": "maintenance",
        "effective_on": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
        "subject_ja": "共用設備の保守",
        "subject_en": "Maintenance of shared equipment",
        "body_ja": "深夜に作業します。",
        "body_en": "Work at night.",
    }


# Records of acme that nothing refers to, so that their owner may also delete them.
def spare_site(s) -> Site:
    return Site.objects.get_or_create(
        client=s.acme, url="https://spare.acme.example/", defaults={"name": "spare"}
    )[0]


def spare_server(s) -> Server:
    return Server.objects.get_or_create(client=s.acme, name="spare", defaults={"kind": "vps"})[0]


def spare_domain(s) -> Domain:
    return Domain.objects.get_or_create(client=s.acme, name="acme.example")[0]


def spare_contact(s) -> Contact:
    return Contact.objects.get_or_create(
        client=s.acme, email="spare@acme.example", defaults={"name": "Spare"}
    )[0]


def spare_contract(s) -> Contract:
    return Contract.objects.get_or_create(
        client=s.acme, type="site_maintenance", start=dt.date(2026, 4, 1)
    )[0]


def spare_profile() -> TermsProfile:
    return TermsProfile.objects.get_or_create(
        code="tenancy-test", defaults={"name_ja": "テスト", "name_en": "Test"}
    )[0]


def spare_fee(s):
    """A fee of the spare contract (the one the contract routes are called with)."""
    from mamori.billing.models import Fee

    return Fee.objects.get_or_create(
        contract=spare_contract(s), kind="monthly", defaults={"amount": 33000}
    )[0]


PARAMETERS = {
    "code": lambda s: s.acme.code,
    "endpoint_id": lambda s: s.problem_endpoint.pk,
    "fingerprint": lambda s: s.expiring_cert.fingerprint_sha256,
    "notice_id": lambda s: s.notice.pk,
    "secret_id": lambda s: acme_secret().pk,
    "managed_id": lambda s: acme_managed(s).pk,
    "approval_id": lambda s: acme_approval(s).pk,
    "target_id": lambda s: acme_target(s).pk,
    "deployment_id": lambda s: acme_deployment(s).pk,
    "order_id": lambda s: acme_order().pk,
    "revocation_id": lambda s: acme_revocation(s).pk,
    "task_id": lambda s: acme_task().pk,
    "account_id": lambda s: acme_account().pk,
    "incident_id": lambda s: acme_incident().pk,
    "check_id": lambda s: acme_check().pk,
    "window_id": lambda s: acme_window().pk,
    "site_id": lambda s: spare_site(s).pk,
    "server_id": lambda s: spare_server(s).pk,
    "domain_id": lambda s: spare_domain(s).pk,
    "contact_id": lambda s: spare_contact(s).pk,
    "contract_id": lambda s: spare_contract(s).pk,
    "profile_code": lambda s: spare_profile().code,
    "fee_id": lambda s: spare_fee(s).pk,
    "change_id": lambda s: acme_change().pk,
    "invoice_number": lambda s: acme_invoice().number,
    "number": lambda s: acme_invoice().number,
    # The work desk: a request of acme's, a file on it; an item of the spare contract's
    # catalogue, a work log entry on a request under it.
    "request_id": lambda s: acme_request().pk,
    "attachment_id": lambda s: acme_attachment().pk,
    "item_id": lambda s: acme_item().pk,
    "entry_id": lambda s: acme_work().pk,
    "closed_day_id": lambda s: spare_closed_day().pk,
    "data_incident_id": lambda s: acme_data_incident().pk,
    "estimate_id": lambda s: acme_estimate().pk,
    # The software inventory: an account change found on acme's server.
    "account_event_id": lambda s: acme_account_event().pk,
    "job_id": lambda s: acme_backup_job().pk,
    "update_id": lambda s: acme_update().pk,
    # An announcement told to acme (NOT-04).
    "announcement_id": lambda s: acme_announcement().pk,
    # acme's October report, released and sent (RPT-01).
    "report_id": lambda s: acme_report().pk,
}
BODIES = {
    "build_report": lambda s: {"client": "acme", "month": "2026-10"},
    "set_report_settings": lambda s: {"business_day": 3, "auto_release": False},
    "create_announcement": lambda s: announcement_body(),
    "update_announcement": lambda s: announcement_body(),
    "set_announcement_period": lambda s: {"kind": "terms_change", "days": 21, "months": 0},
    "set_software_setup": lambda s: {
        "ssh_host": "127.0.0.1",
        "ssh_port": 1,
        "ssh_username": "deploy",
        "ssh_host_key": SOFTWARE_HOST_KEY,
        "wordpress_paths": ["/var/www/html"],
    },
    "create_backup_job": lambda s: {
        "client": "acme",
        "name": "db weekly",
        "paths": ["/var/lib/mysql-files"],
        "repository": "/srv/backup/acme-db",
        "repository_password": acme_backup_job().repository_password_id,
        "run_on": "server",
        "ssh_host": "127.0.0.1",
        "ssh_port": 9,
        "ssh_username": "backup",
        "ssh_secret": acme_backup_job().ssh_secret_id,
        "ssh_host_key": HOST_KEY,
    },
    "update_backup_job": lambda s: {
        "client": "acme",
        "name": "www nightly",
        "paths": ["/var/www", "/etc/nginx"],
        "repository": "/srv/backup/acme",
        "repository_password": acme_backup_job().repository_password_id,
        "run_on": "server",
        "ssh_host": "127.0.0.1",
        "ssh_port": 9,
        "ssh_username": "backup",
        "ssh_secret": acme_backup_job().ssh_secret_id,
        "ssh_host_key": HOST_KEY,
        "interval_hours": 12,
    },
    "set_weblog_setup": lambda s: {"paths": ["/var/log/nginx/spare.access.log*"]},
    # A raw body (bytes are sent as they are): one access log line.
    "upload_site_log": lambda s: (
        b'203.0.113.1 - - [10/Oct/2026:10:00:00 +0900] "GET / HTTP/1.1" 200 5 "-" "Firefox"\n'
    ),
    "restore_backup": lambda s: {"path": "/var/www/index.html", "target": "/tmp/restored"},
    "create_update": lambda s: {
        "client": s.acme.code,
        "server": spare_server(s).pk,
        "package": "openssl",
        "from_version": "3.0.11-1~deb12u2",
        "to_version": "3.0.13-1~deb12u1",
        "kind": "urgent",
        "notify_client": False,
    },
    "create_catalogue_item": lambda s: {
        "code": "image-swap",
        "scope": "in_scope",
        "name_ja": "画像差替え",
        "name_en": "Image swaps",
        "keywords": ["画像差し替え", "replace image"],
    },
    "update_catalogue_item": lambda s: {"monthly_limit": 3},
    "classify_request": lambda s: {"item": acme_item().code},
    "log_work": lambda s: {"minutes": 15, "text": "確認"},
    "update_work": lambda s: {"minutes": 45},
    "start_request_wait": lambda s: {"awaited": "The new photo of the staff page"},
    "end_request_wait": lambda s: {},
    "suspend_request": lambda s: {"reason": "No answer to our question for two months"},
    "create_data_incident": lambda s: {
        "client": "acme",
        "kind": "loss",
        "what": "A printed contact list",
        "whose": "acme.example staff",
        "discovered_at": "2026-11-01T10:00:00+09:00",
    },
    "add_data_incident_measures": lambda s: {"text": "The list was found and shredded."},
    "add_incident_note": lambda s: {"text": "Customer reports pages load again."},
    "set_incident_cause": lambda s: {"cause": "hosting", "cause_detail": "Cloud zone outage"},
    "record_incident_recovery": lambda s: {"recovered_at": "2026-11-03T11:00:00+09:00"},
    "start_incident_wait": lambda s: {"awaited": "Access to the admin panel"},
    "end_incident_wait": lambda s: {},
    "create_check": lambda s: {
        "client": "acme",
        "name": "api.acme.example",
        "kind": "tcp",
        "settings": {"host": "api.acme.example", "port": 443},
    },
    "update_check": lambda s: {"interval_seconds": 120},
    "create_maintenance_window": lambda s: {
        "client": "acme",
        "site": s.site.pk,
        "title": "www.acme.example: PHP upgrade",
        "starts_at": "2027-01-10T01:00:00+09:00",
        "ends_at": "2027-01-10T03:00:00+09:00",
    },
    "create_endpoint": lambda s: {"client": "acme", "host": "new.acme.example", "site": s.site.pk},
    "create_site": lambda s: {
        "client": "acme",
        "name": "Shop",
        "url": "https://shop.acme.example/",
        "server": s.server.pk,
    },
    "update_site": lambda s: {"cms": "Drupal"},
    "create_server": lambda s: {"client": "acme", "name": "db01", "kind": "cloud"},
    "update_server": lambda s: {"os": "Debian 13"},
    "create_domain": lambda s: {"client": "acme", "name": "acme.co.jp", "registrar": "JPRS"},
    "update_domain": lambda s: {"expires_on": "2027-03-31"},
    "create_contact": lambda s: {
        "client": "acme",
        "name": "Suzuki",
        "email": "suzuki@acme.example",
        "notify": ["incidents"],
    },
    "update_contact": lambda s: {"language": "en"},
    "create_contract": lambda s: {
        "client": "acme",
        "type": "server_management",
        "start": "2026-10-01",
    },
    "update_contract": lambda s: {"title": "Server care"},
    "create_contract_notice": lambda s: {
        "received_on": "2026-12-01",
        "medium": "letter",
        "sender": "Yamada Taro",
    },
    "create_terms_profile": lambda s: {
        "code": "fixed-2y",
        "name_ja": "2年契約",
        "name_en": "Two years",
        "term_months": 24,
    },
    "update_terms_profile": lambda s: {"notice_days": 60},
    "create_closed_day": lambda s: {
        "first": "2026-08-13",
        "last": "2026-08-16",
        "name": "夏季休業",
    },
    "set_support_hours": lambda s: {
        "weekdays": ["mon", "tue", "wed", "thu", "fri"],
        "opens": "09:00",
        "closes": "17:30",
        "first_response_minutes": 120,
    },
    "create_secret": lambda s: {
        "client": "acme",
        "kind": "server_login",
        "name": "web02 root",
        "value": "never stored",
    },
    "reveal_secret": lambda s: {"purpose": "tenancy test"},
    "create_managed_certificate": lambda s: {
        "client": "acme",
        "name": "shop",
        "names": ["shop.acme.example"],
        "issuer": "manual",
        "ca_name": "Example Trust",
    },
    "hold_managed_certificate": lambda s: {"awaiting": "payment", "note": "invoice 2026-04"},
    "approve_renewal": lambda s: {"note": "yes"},
    "decline_renewal": lambda s: {"note": "not this year"},
    "create_deployment_target": lambda s: {
        "managed_certificate": acme_managed(s).pk,
        "name": "web02",
        "kind": "ssh",
        "endpoint": s.expiring_endpoint.pk,
        "ssh_host": "web02.acme.example",
        "ssh_username": "deploy",
        "ssh_secret": acme_secret().pk,
        "ssh_host_key": HOST_KEY,
        "fullchain_path": "/etc/nginx/tls/www.acme.example.pem",
        "key_path": "/etc/nginx/tls/www.acme.example.key",
    },
    "create_deployment": lambda s: {"target": acme_target(s).pk},
    "order_step": lambda s: {"step": "apply", "ca_reference": "ET-1"},
    "add_order_message": lambda s: {"direction": "received", "subject": "Documents received"},
    "record_order_fee": lambda s: {"amount": "33000", "currency": "JPY", "note": "OV 1 year"},
    "upload_order_certificate": lambda s: {"pem": issued_for_acme_order()},
    "request_revocation": lambda s: {
        "certificate": s.expiring_cert.fingerprint_sha256,
        "reason": 4,
        "requested_by": "Jane Smith",
        "reissue": False,
    },
    "mark_revocation_done": lambda s: {"ca_reference": "REV-1"},
    "wait_task": lambda s: {"awaiting": "information", "note": "Registry extract"},
    "close_task": lambda s: {"resolution": "Re-issued"},
    "create_fee": lambda s: {"kind": "monthly", "amount": "33000", "tax_rate": 10},
    "update_fee": lambda s: {"amount": "35000"},
    "create_contract_change": lambda s: {
        "kind": "order",
        "received_on": "2026-06-01",
        "summary": "追加作業",
        "fee_changes": [{"kind": "other", "amount": "20000"}],
    },
    "accept_contract_change": lambda s: {"on": "2026-07-01"},
    "decline_contract_change": lambda s: {"on": "2026-07-01"},
    "record_payment": lambda s: {"amount": "10000", "received_on": "2026-06-20"},
    "credit_invoice": lambda s: {"reason": "誤請求の訂正"},
    "run_invoices": lambda s: {"month": "2026-05", "dry_run": True},
    "create_estimate": lambda s: {
        "request": acme_request().pk,
        "lines": [{"description": "採用ページの制作", "unit_price": "50000"}],
    },
    "update_estimate": lambda s: {"title": "採用ページの新規作成（改）"},
    "issue_estimate": lambda s: {"valid_until": "2099-12-31"},
    "accept_estimate": lambda s: {},
    "decline_estimate": lambda s: {"reason": "予算の都合"},
    "bill_interest": lambda s: {"on": "2026-07-31"},
    "add_surcharge": lambda s: {"evaded": "5000", "reason": "未申告", "occurred_on": "2026-07-01"},
    "create_request": lambda s: {
        "client": "acme",
        "subject": "お問い合わせフォームの修正",
        "body": "送信後の文言を変えてください。",
    },
    "add_request_message": lambda s: {"body": "承知しました。"},
    "change_request_state": lambda s: {"action": "resolve"},
    "create_acme_account": lambda s: {
        "client": "acme",
        "name": "second-ca",
        "directory_url": "https://127.0.0.1:9/directory",
    },
}
# Operations for provider staff only (the vault: client users read metadata, never values), so
# acme's own administrator is refused with 403 like its viewer. tests/vault/test_api.py has
# their successful calls, which need the keystore database these tests do not set up.
PROVIDER_ONLY = {"create_secret", "reveal_secret"}
# Managing certificates is the provider's work; the client approves or declines renewals.
PROVIDER_ONLY |= {
    "create_managed_certificate",
    "renew_managed_certificate",
    "hold_managed_certificate",
    "release_managed_certificate",
}
# Deployment targets name logins from the vault and deploying runs commands on servers.
PROVIDER_ONLY |= {"create_deployment_target", "create_deployment", "run_deployment"}
# ACME accounts hold keys in the client's vault: staff who manage that vault add and register.
PROVIDER_ONLY |= {"create_acme_account", "register_acme_account"}
# Orders at a commercial CA, recording a CA's revocation and tasks are the provider's work; the
# client's administrators request revocations.
PROVIDER_ONLY |= {
    "order_step",
    "add_order_message",
    "record_order_fee",
    "upload_order_certificate",
    "mark_revocation_done",
    "wait_task",
    "resume_task",
    "close_task",
}
# Attributing an incident is the provider's work; the client's administrators add notes.
PROVIDER_ONLY |= {"set_incident_cause"}
# So are its recovery time and its waiting for the client (CT-09).
PROVIDER_ONLY |= {"record_incident_recovery", "start_incident_wait", "end_incident_wait"}
# Checks are set up by the provider; the client reads them.
PROVIDER_ONLY |= {"create_check", "update_check", "delete_check"}
# Maintenance windows are planned and cancelled by the provider; the client reads them.
PROVIDER_ONLY |= {"create_maintenance_window", "cancel_maintenance_window"}
# Backup jobs name logins from the vault and run restic on servers: the provider's work.
PROVIDER_ONLY |= {
    "create_backup_job",
    "update_backup_job",
    "backup_now",
    "drill_now",
    "restore_backup",
}
# Updates and repairs are the provider's work (run over SSH or done by hand); the client reads them.
PROVIDER_ONLY |= {"create_update"}
# Contracts record what the provider agreed to do: its staff keep them.
PROVIDER_ONLY |= {"create_contract", "update_contract", "delete_contract"}
# So are the notices the client sends about them (cancellation, withdrawal), recorded by staff.
PROVIDER_ONLY |= {"create_contract_notice"}
# Terms profiles are the provider's own data, shared by every client: not a client's record, so
# the tenancy tests below leave them out; tests/clients/test_contract_notices.py has their rules.
PROVIDER_GLOBAL = {
    "list_terms_profiles",
    "get_terms_profile",
    "create_terms_profile",
    "update_terms_profile",
    "delete_terms_profile",
}
# The retention plan (END-02) covers every client: provider administrators and operators only,
# 403 for everyone else (tests/retention/test_interfaces.py).
PROVIDER_GLOBAL |= {"retention_plan"}
# Announcements (NOT-04) reach clients across the provider: its administrators and operators
# draft, change and send them; acme's people read those told to acme. Drafting and the notice
# periods concern no client (tests/announcements/test_api.py has their rules).
PROVIDER_ONLY |= {"update_announcement", "send_announcement"}
# Monthly reports (RPT-01): acme's people read its released reports; building and releasing
# are the provider's administrators' and operators' (tests/reports/test_interfaces.py).
PROVIDER_ONLY |= {"build_report", "release_report"}
# A client's report settings: its people read them, the provider's staff set them
# (tests/reports/test_settings.py).
PROVIDER_ONLY |= {"set_report_settings"}
PROVIDER_GLOBAL |= {
    "create_announcement",
    "list_announcement_periods",
    "set_announcement_period",
}
# Requests: the client's administrators file them and write on them; resolving, closing and
# reopening is the provider's work.
PROVIDER_ONLY |= {"change_request_state"}
# Fees, orders and changes, payments and interest are kept by the provider's staff.
PROVIDER_ONLY |= {
    "create_fee",
    "update_fee",
    "delete_fee",
    "create_contract_change",
    "accept_contract_change",
    "decline_contract_change",
    "record_payment",
    "bill_interest",
    "add_surcharge",
    "credit_invoice",
}
# The catalogue, classifying requests and the work log are the provider's work; the client
# reads them.
PROVIDER_ONLY |= {
    "create_catalogue_item",
    "apply_shipped_catalogue",
    "update_catalogue_item",
    "delete_catalogue_item",
    "classify_request",
    "log_work",
    "update_work",
    "delete_work",
}
# Estimates are drafted, issued and withdrawn by the provider; the client's administrators
# accept or decline them (their viewers read them).
PROVIDER_ONLY |= {"create_estimate", "update_estimate", "issue_estimate", "withdraw_estimate"}
# A month's invoice run covers every client: the provider's own act, not a client's record.
PROVIDER_GLOBAL |= {"run_invoices"}
# The provider's closed days are its own calendar, shared by every client
# (tests/desk/test_hours_api.py has their rules); contracts' support hours are set by its staff.
PROVIDER_GLOBAL |= {"list_closed_days", "create_closed_day", "delete_closed_day"}
PROVIDER_ONLY |= {"set_support_hours"}
# The desk: waiting on the client, suspending and resuming a request's work are the provider's
# work (CT-09, NOT-05); so is recording a personal-data incident (ACC-04).
PROVIDER_ONLY |= {
    "start_request_wait",
    "end_request_wait",
    "suspend_request",
    "resume_request",
    "create_data_incident",
    "add_data_incident_measures",
}
# What has gone unanswered for a month is the provider's work queue across its clients, read by
# its staff only (tests/desk/test_waits_api.py: client users refused, a subcontractor sees only
# the clients assigned to them).
PROVIDER_GLOBAL |= {"list_unanswered"}
# The software inventory is collected by the provider; the client reads it (MNT-01, MNT-07).
PROVIDER_ONLY |= {
    "set_software_setup",
    "collect_server_software",
    "acknowledge_account_event",
}
# Access logs are set up and collected by the provider; the client reads the figures (MNT-06).
PROVIDER_ONLY |= {"set_weblog_setup", "collect_site_logs", "upload_site_log"}
# How fresh the vulnerability data is: the provider's one copy of public data, no client's.
PROVIDER_GLOBAL |= {"advisory_data"}
WRITE_METHODS = {"post", "put", "patch", "delete"}

# The audit trail (ACC-03) is read by client and provider administrators only: acme's viewer is
# refused. acme's trail gets one event, so that its owner has something of acme to read.
ADMIN_ONLY_READS = {"list_audit_events"}
# So is the money: invoices, their payments and interest (billing.models.reads_invoices).
ADMIN_ONLY_READS |= {"list_invoices", "read_invoice", "list_payments", "get_interest"}
# And personal-data incidents (ACC-04): the client's administrators, not its viewers.
ADMIN_ONLY_READS |= {"list_data_incidents", "get_data_incident"}


@pytest.fixture(autouse=True)
def acme_desk_waits(request):
    """A personal-data incident of acme, for their list."""
    if "scene" in request.fixturenames:
        request.getfixturevalue("scene")
        acme_data_incident()


@pytest.fixture(autouse=True)
def acme_estimates(request):
    """acme's issued estimate, for the estimate list."""
    if "scene" in request.fixturenames:
        request.getfixturevalue("scene")
        acme_estimate()


@pytest.fixture(autouse=True)
def acme_audit_event(request):
    if "scene" in request.fixturenames:
        scene = request.getfixturevalue("scene")
        audit.record("endpoint.check_requested", scene.problem_endpoint, actor_label="test")


@pytest.fixture(autouse=True)
def acme_acme_account(request):
    """One ACME account of acme, so that the account list has acme in it."""
    if "scene" in request.fixturenames:
        request.getfixturevalue("scene")
        acme_account()


@pytest.fixture(autouse=True)
def acme_vault_secret(request):
    """One of acme's secrets (metadata only), so that the vault's lists have acme in them."""
    if "scene" in request.fixturenames:
        request.getfixturevalue("scene")
        acme_secret()


@pytest.fixture(autouse=True)
def acme_lifecycle(request):
    """acme's managed certificate with a renewal waiting for approval, for the lifecycle's lists."""
    if "scene" in request.fixturenames:
        acme_approval(request.getfixturevalue("scene"))


@pytest.fixture(autouse=True)
def acme_deployments(request):
    """A deployment target of acme's managed certificate and one deployment, for their lists."""
    if "scene" in request.fixturenames:
        acme_deployment(request.getfixturevalue("scene"))


@pytest.fixture(autouse=True)
def acme_incidents(request):
    """One incident of acme, for the incident list."""
    if "scene" in request.fixturenames:
        request.getfixturevalue("scene")
        acme_incident()


@pytest.fixture(autouse=True)
def acme_checks(request):
    """One check of acme, for the check list."""
    if "scene" in request.fixturenames:
        request.getfixturevalue("scene")
        acme_check()


@pytest.fixture(autouse=True)
def acme_maintenance_window(request):
    """One maintenance window of acme, for the window list."""
    if "scene" in request.fixturenames:
        request.getfixturevalue("scene")
        acme_window()


@pytest.fixture(autouse=True)
def acme_backups(request):
    """A backup job of acme with one run, for the job and run lists."""
    if "scene" in request.fixturenames:
        from mamori.backups.models import BackupRun

        request.getfixturevalue("scene")
        BackupRun.objects.create(job=acme_backup_job(), kind="backup", state="succeeded")


@pytest.fixture(autouse=True)
def acme_domain(request):
    """One domain of acme, for the domain list."""
    if "scene" in request.fixturenames:
        spare_domain(request.getfixturevalue("scene"))


@pytest.fixture(autouse=True)
def acme_contract_notice(request):
    """A cancellation notice for acme's contract, for its notice list."""
    if "scene" in request.fixturenames:
        contract = spare_contract(request.getfixturevalue("scene"))
        ContractNotice.objects.create(
            contract=contract,
            kind="cancellation",
            received_on=dt.date(2026, 11, 1),
            medium="email",
            sender="Jane Smith",
            effective_on=dt.date(2027, 3, 31),
        )


@pytest.fixture(autouse=True)
def acme_sla_credit(request):
    """Last month of acme's SLA policy, computed, for the credits list."""
    if "scene" in request.fixturenames:
        request.getfixturevalue("scene")
        acme_credit()


@pytest.fixture(autouse=True)
def acme_desk_scope(request):
    """An item of the spare contract's catalogue and a work log entry, for their lists."""
    if "scene" in request.fixturenames:
        request.getfixturevalue("scene")
        acme_item()
        acme_work()


@pytest.fixture(autouse=True)
def acme_billing(request):
    """A fee and a change of the spare contract and a payment of acme's invoice, for their
    lists."""
    if "scene" in request.fixturenames:
        from mamori.billing.models import ContractChange, Payment

        scene = request.getfixturevalue("scene")
        spare_fee(scene)
        ContractChange.objects.create(
            contract=spare_contract(scene),
            kind="change",
            received_on=dt.date(2026, 5, 1),
            summary="Two more servers",
        )
        Payment.objects.create(invoice=acme_invoice(), amount=1000, received_on=dt.date(2026, 6, 1))


@pytest.fixture(autouse=True)
def acme_advisories(request):
    """A finding on acme's spare server and an update record of acme, for their lists."""
    if "scene" in request.fixturenames:
        from django.utils import timezone

        from mamori.advisories.models import Advisory, Finding

        scene = request.getfixturevalue("scene")
        acme_update()
        now = timezone.now()
        advisory = Advisory.objects.get_or_create(
            osv_id="DSA-9901-1", defaults={"level": "high", "modified": now, "imported_at": now}
        )[0]
        Finding.objects.get_or_create(
            server=spare_server(scene),
            advisory=advisory,
            ecosystem="Debian:12",
            package="openssl",
            defaults={"installed_version": "3.0.11-1~deb12u2", "level": "high", "opened_at": now},
        )


@pytest.fixture(autouse=True)
def acme_announcements(request):
    """An announcement told to acme, for the announcement list."""
    if "scene" in request.fixturenames:
        request.getfixturevalue("scene")
        acme_announcement()


@pytest.fixture(autouse=True)
def acme_reports(request):
    """acme's released October report, for the report list."""
    if "scene" in request.fixturenames:
        request.getfixturevalue("scene")
        acme_report()


@pytest.fixture(autouse=True)
def acme_desk_request(request):
    """One request of acme with a file, for the request lists."""
    if "scene" in request.fixturenames:
        request.getfixturevalue("scene")
        acme_attachment()


def operations() -> list[tuple[str, str, str]]:
    """(method, path template, operation id) of every operation in the OpenAPI document."""
    paths = api.get_openapi_schema()["paths"]
    return sorted(
        (method, path, op["operationId"])
        for path, ops in paths.items()
        for method, op in ops.items()
    )


OPERATIONS = operations()
IDS = [f"{m.upper()} {p}" for m, p, _ in OPERATIONS]
TENANT_OPERATIONS = [op for op in OPERATIONS if op[2] not in PROVIDER_GLOBAL]
TENANT_IDS = [f"{m.upper()} {p}" for m, p, _ in TENANT_OPERATIONS]


def fill(path: str, scene) -> str:
    return re.sub(r"{(\w+)}", lambda m: str(PARAMETERS[m.group(1)](scene)), path)


def call(client, method: str, path: str, operation_id: str, scene, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = BODIES[operation_id](scene) if operation_id in BODIES else None
    raw = isinstance(body, bytes)
    return client.generic(
        method.upper(),
        fill(path, scene),
        body if raw else json.dumps(body) if body is not None else "",
        content_type="application/octet-stream" if raw else "application/json",
        headers=headers,
    )


def token_of(user) -> str:
    return create_token(user, "test")[1]


def has_object(path: str) -> bool:
    return "{" in path


def test_it_can_fill_in_every_operation():
    schema = api.get_openapi_schema()
    for path, ops in schema["paths"].items():
        for name in re.findall(r"{(\w+)}", path):
            assert name in PARAMETERS, f"{path}: add {name!r} to PARAMETERS in {__file__}"
        for method, op in ops.items():
            if "requestBody" in op:
                assert op["operationId"] in BODIES, f"{method} {path}: add a body to BODIES"


@pytest.mark.parametrize(("method", "path", "operation_id"), OPERATIONS, ids=IDS)
def test_it_requires_credentials(method, path, operation_id, scene, client):
    response = call(client, method, path, operation_id, scene, token=None)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


@pytest.mark.parametrize(("method", "path", "operation_id"), TENANT_OPERATIONS, ids=TENANT_IDS)
def test_it_serves_acme_to_its_owner(method, path, operation_id, scene, owner, client):
    response = call(client, method, path, operation_id, scene, token_of(owner))
    if operation_id in PROVIDER_ONLY:
        assert response.status_code == 403
        assert "detail" in response.json()
        return
    assert 200 <= response.status_code < 300, response.content
    if method == "get":
        assert "acme" in response.content.decode()


@pytest.mark.parametrize(("method", "path", "operation_id"), TENANT_OPERATIONS, ids=TENANT_IDS)
def test_it_lets_viewers_read_but_not_write(method, path, operation_id, scene, member, client):
    before = list(Endpoint.objects.values().order_by("pk"))
    response = call(client, method, path, operation_id, scene, token_of(member))
    if operation_id in ADMIN_ONLY_READS:
        assert response.status_code == 403
        assert response.json() == {"detail": "Forbidden"}
    elif method in WRITE_METHODS:
        assert response.status_code == 403
        assert "detail" in response.json()
        assert list(Endpoint.objects.values().order_by("pk")) == before
    else:
        assert response.status_code == 200
        assert "acme" in response.content.decode()


@pytest.mark.parametrize(("method", "path", "operation_id"), TENANT_OPERATIONS, ids=TENANT_IDS)
def test_it_hides_acme_from_outsiders(method, path, operation_id, scene, outsider, client):
    before = list(Endpoint.objects.values().order_by("pk"))
    response = call(client, method, path, operation_id, scene, token_of(outsider))
    if has_object(path):
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found"}
    elif method in WRITE_METHODS:
        # Creating in a client the caller cannot see: the client is unknown to them.
        assert response.status_code == 422
    else:
        assert response.status_code == 200
        assert "acme" not in response.content.decode()
    assert list(Endpoint.objects.values().order_by("pk")) == before
