"""Importing an inventory file from the web: preview (dry run) first, then apply."""

from __future__ import annotations

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mamori.core.models import AuditEvent
from mamori.inventory.models import Endpoint
from tests.inventory import hostile

GOOD = """\
clients:
  - code: acme
    endpoints:
      - {host: api.acme.example, port: 8443}
"""

BAD = """\
clients:
  - code: acme
    endpoints:
      - {host: api.acme.example, port: eighty}
"""


def upload(client, name: str, text: str):
    file = SimpleUploadedFile(name, text.encode(), content_type="application/yaml")
    return client.post(reverse("inventory_import"), {"file": file})


def digest_of(body: str) -> str:
    return re.search(r'name="digest" value="([0-9a-f]{64})"', body).group(1)


@pytest.mark.req("ACC-03")
def test_it_previews_then_applies_an_import(acme, owner, client):
    client.force_login(owner)
    preview = upload(client, "acme.yaml", GOOD)
    body = preview.content.decode()
    assert preview.status_code == 200
    assert "acme.yaml のプレビュー" in body
    assert "取り込みを実行" in body
    assert not Endpoint.objects.filter(host="api.acme.example").exists()  # a dry run only

    applied = client.post(
        reverse("inventory_import"), {"action": "apply", "digest": digest_of(body)}
    )
    assert applied.status_code == 200
    assert "acme.yaml を取り込みました。" in applied.content.decode()
    endpoint = Endpoint.objects.get(host="api.acme.example", port=8443)
    assert endpoint.client == acme
    assert AuditEvent.objects.filter(actor=owner, action__startswith="import.").exists()


def test_it_lists_the_errors_of_a_bad_file_with_their_lines(acme, owner, client):
    client.force_login(owner)
    body = upload(client, "acme.yaml", BAD).content.decode()
    assert "acme.yaml にエラーがあります" in body
    assert "acme.yaml:4:" in body
    assert 'name="action" value="apply"' not in body
    assert not Endpoint.objects.filter(host="api.acme.example").exists()


def test_it_applies_only_the_file_that_was_previewed(acme, owner, client):
    client.force_login(owner)
    upload(client, "acme.yaml", GOOD)
    response = client.post(reverse("inventory_import"), {"action": "apply", "digest": "0" * 64})
    assert response.status_code == 302
    assert not Endpoint.objects.filter(host="api.acme.example").exists()


def test_it_does_not_import_into_a_client_the_user_may_not_see(acme, globex, outsider, client):
    client.force_login(outsider)
    body = upload(client, "acme.yaml", GOOD).content.decode()
    assert "acme.yaml にエラーがあります" in body
    assert not Endpoint.objects.filter(host="api.acme.example").exists()


# --- files no inventory looks like (security review, issue 13) --------------------------------

IMPORTERS = ["provider_admin", "operator", "subcontractor", "owner"]


@pytest.fixture(params=IMPORTERS)
def importer(request, acme, client):
    """The test client, signed in as each role that may import."""
    client.force_login(request.getfixturevalue(request.param))
    return client


def upload_bytes(client, name: str, data: bytes) -> str:
    file = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    response = client.post(reverse("inventory_import"), {"file": file})
    assert response.status_code == 200
    return response.content.decode()


def listed_errors(body: str) -> list[str]:
    """The problems the page lists, as text."""
    listing = re.search(r'<ul class="errors mono small">(.*?)</ul>', body, re.S).group(1)
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", listing, re.S)]


def test_it_answers_a_csv_of_20000_columns_with_one_short_error(importer):
    small = upload_bytes(importer, "wide.csv", hostile.wide_csv(1))

    body = upload_bytes(importer, "wide.csv", hostile.wide_csv(20_000))

    assert listed_errors(body) == [
        "wide.csv:1: 見出し行が 20,002 列あります。列は 100 列までです。"
    ]
    assert len(body) < len(small) + 1_000  # was 3.3 MB: one problem per column
    assert 'name="action" value="apply"' not in body
    assert not Endpoint.objects.filter(host="www.acme.example").exists()


def test_it_lists_the_first_100_errors_and_counts_the_rest(importer):
    body = upload_bytes(importer, "endpoints.csv", hostile.bad_ports_csv(1_000))

    errors = listed_errors(body)
    assert len(errors) == 100
    assert errors[0] == "endpoints.csv:2: port: 'https' は整数ではありません。"
    assert "1000 件のエラー:" in body
    assert "…ほかに 900 件のエラーがあります（表示していません）。" in body
    assert not Endpoint.objects.exists()


def test_it_reports_thousands_of_unknown_yaml_keys_in_six_errors(importer):
    body = upload_bytes(importer, "acme.yaml", hostile.unknown_keys_yaml(2_000))

    errors = listed_errors(body)
    assert len(errors) == 6
    assert errors[-1] == (
        "acme.yaml:8: clients[0]: ほかにも不明な項目が 1,995 個あります（最初は 'k5'）。"
    )


def test_it_refuses_an_euc_jp_csv_rather_than_import_mojibake(importer):
    body = upload_bytes(importer, "endpoints.csv", hostile.EUC_JP_CSV.encode("euc_jp"))

    assert listed_errors(body) == [
        "endpoints.csv:2: ファイルが EUC-JP です。CSV ファイルは UTF-8 か Shift_JIS にして"
        "ください。UTF-8 への変換は、Excel で「CSV UTF-8 (コンマ区切り)」形式で保存するか、"
        "iconv -f EUC-JP -t UTF-8 で行えます。"
    ]
    assert not Endpoint.objects.exists()


def test_it_still_imports_the_same_csv_saved_as_shift_jis(importer):
    body = upload_bytes(importer, "endpoints.csv", hostile.EUC_JP_CSV.encode("cp932"))

    assert "endpoints.csv のプレビュー" in body
    applied = importer.post(
        reverse("inventory_import"), {"action": "apply", "digest": digest_of(body)}
    )
    assert applied.status_code == 200
    assert set(Endpoint.objects.values_list("host", flat=True)) == {
        "xn--zckzah.jp",
        "xn--yck7ccu3lc.jp",
    }


@pytest.mark.parametrize("case", hostile.REFUSED, ids=lambda case: case.name)
def test_it_refuses_a_hostile_file_with_one_precise_error(importer, case):
    body = upload_bytes(importer, case.name, case.data())

    assert listed_errors(body) == [f"{case.name}{case.where}: {case.message_ja}"]
    assert not Endpoint.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="import.").exists()


@pytest.mark.parametrize("case", hostile.HELD, ids=lambda case: case.name)
def test_it_refuses_a_yaml_file_too_large_to_expand(acme, owner, client, case):
    client.force_login(owner)

    body = upload_bytes(client, case.name, case.data())

    assert listed_errors(body) == [f"{case.name}{case.where}: {case.message_ja}"]
