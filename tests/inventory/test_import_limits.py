"""Files no inventory looks like, through ``mamori import``: each is refused with a short,
precise report (or read correctly), nothing is written, and the report stays small however
large the file (security review, issue 13). The web page's side is in tests/web/test_import.py.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from mamori.clients.models import Client
from mamori.core.models import AuditEvent
from mamori.inventory.models import Endpoint
from mamori.inventory.transfer import import_file
from tests.inventory import hostile

# ``mamori import`` as the system, and with ``--user`` as each role that may import.
ROLES = [None, "provider_admin", "operator", "subcontractor", "owner"]


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture(params=ROLES, ids=lambda role: role or "system")
def as_user(request, acme) -> list[str]:
    """``--user`` arguments for the role (none for the system)."""
    if request.param is None:
        return []
    return ["--user", request.getfixturevalue(request.param).username]


def import_command(path: Path, *args: str) -> tuple[int, str, str]:
    """Run ``mamori import``: its exit status, standard output and standard error."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import", str(path), *args, stdout=out, stderr=err)
    except CommandError as e:
        err.write(f"{e}\n")
        return e.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def written() -> tuple[int, int, int]:
    return Client.objects.count(), Endpoint.objects.count(), AuditEvent.objects.count()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- many columns, many problems --------------------------------------------------------------


def test_it_refuses_a_csv_with_100000_columns_in_one_line(db, as_user, tmp_path):
    path = write(tmp_path, "wide.csv", hostile.wide_csv(100_000))
    before = written()

    status, _out, err = import_command(path, *as_user)

    assert status == 1
    assert err.splitlines() == [
        f"{path}:1: The header has 100,002 columns; at most 100 are allowed.",
        "1 problem(s) found; nothing was imported.",
    ]
    assert written() == before


def test_it_refuses_a_header_of_too_many_characters(db, tmp_path):
    path = write(tmp_path, "long.csv", b"client,host," + b"x" * 5_000 + b"\nacme,a.example\n")

    status, _out, err = import_command(path)

    assert status == 1
    assert err.splitlines()[0] == (
        f"{path}:1: The header is 5,012 characters long; at most 4,000 are allowed."
    )


def test_it_names_several_unknown_columns_in_one_problem(db, as_user, tmp_path):
    header = "client,host,hots," + ",".join(f"extra{i}" for i in range(60))
    path = write(tmp_path, "endpoints.csv", f"{header}\nacme,www.acme.example\n".encode())

    status, _out, err = import_command(path, *as_user)

    assert status == 1
    assert err.splitlines() == [
        f"{path}:1: 61 unknown columns: 'hots' (did you mean 'host'?), 'extra0', 'extra1', "
        "'extra2', 'extra3', …. Known: client, host, port, sni, site, server, contract, "
        "check_interval, enabled.",
        "1 problem(s) found; nothing was imported.",
    ]
    assert not Endpoint.objects.exists()


def test_it_lists_the_first_100_problems_and_counts_the_others(db, as_user, tmp_path):
    path = write(tmp_path, "endpoints.csv", hostile.bad_ports_csv(1_000))

    status, _out, err = import_command(path, *as_user)

    lines = err.splitlines()
    assert status == 1
    assert len(lines) == 102
    assert lines[0] == f"{path}:2: port: 'https' is not a whole number."
    assert lines[99] == f"{path}:101: port: 'https' is not a whole number."
    assert lines[100] == "… and 900 more problems (the first 100 in the file are listed)."
    assert lines[101] == "1000 problem(s) found; nothing was imported."
    assert not Endpoint.objects.exists()


def test_it_keeps_the_json_report_small_too(db, acme, tmp_path):
    path = write(tmp_path, "endpoints.csv", hostile.bad_ports_csv(1_000))

    status, out, _err = import_command(path, "--json")

    report = json.loads(out)
    assert status == 1
    assert (len(report["errors"]), report["more_errors"]) == (100, 900)
    assert [e["line"] for e in report["errors"]] == list(range(2, 102))


def test_it_reports_a_yaml_record_with_thousands_of_unknown_keys_in_six_lines(
    db, as_user, tmp_path
):
    path = write(tmp_path, "acme.yaml", hostile.unknown_keys_yaml(2_000))

    status, _out, err = import_command(path, *as_user)

    lines = err.splitlines()
    assert status == 1
    assert lines[0] == (
        f"{path}:3: clients[0].k0: Unknown field 'k0'. Known: code, name, address, "
        "representative, notes, contacts, contracts, servers, sites, domains, endpoints, "
        "acme_accounts, managed_certificates, checks, maintenance_windows, backup_jobs."
    )
    assert lines[5:] == [
        f"{path}:8: clients[0]: 1,995 more unknown fields, the first 'k5'.",
        "6 problem(s) found; nothing was imported.",
    ]


def test_the_report_holds_at_most_100_problems_however_many_are_found(db, acme):
    report = import_file(hostile.bad_ports_csv(5_000), filename="endpoints.csv")

    assert (len(report.errors), report.more_errors, report.error_count) == (100, 4_900, 5_000)
    assert report.errors == sorted(report.errors, key=lambda e: e.line)
    assert report.as_dict()["more_errors"] == 4_900


def test_a_problem_reported_twice_counts_once(db):
    report = import_file(b"client,host\n", filename="e.csv")
    report.add_error(3, "port", "Bad.")
    report.add_error(3, "port", "Bad.")

    assert report.error_count == 1


# --- encodings ----------------------------------------------------------------------------------


def test_it_refuses_an_euc_jp_csv_rather_than_import_mojibake(db, as_user, tmp_path):
    data = hostile.EUC_JP_CSV.encode("euc_jp")
    assert data.decode("cp932")  # these bytes are "valid" Shift_JIS too: garbage host names
    path = write(tmp_path, "endpoints.csv", data)

    status, _out, err = import_command(path, *as_user)

    assert status == 1
    assert err.splitlines()[0] == (
        f"{path}:2: The file is EUC-JP text; a CSV file must be UTF-8 or Shift_JIS. Save it as "
        "UTF-8: in Excel as “CSV UTF-8 (comma delimited)”, or with iconv -f EUC-JP -t UTF-8."
    )
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_it_still_reads_the_same_csv_in_the_encodings_the_docs_promise(db, acme, encoding):
    report = import_file(hostile.EUC_JP_CSV.encode(encoding), filename="endpoints.csv")

    assert report.ok, [str(e) for e in report.errors]
    assert set(Endpoint.objects.values_list("host", flat=True)) == {
        "xn--zckzah.jp",  # テスト.jp
        "xn--yck7ccu3lc.jp",  # ホームページ.jp
    }


def test_it_names_euc_jp_in_a_yaml_file(db, tmp_path):
    data = hostile.EUC_JP_YAML.encode("euc_jp")
    path = write(tmp_path, "clients.yaml", data)

    status, _out, err = import_command(path)

    assert status == 1
    assert err.splitlines()[0] == (
        f"{path}:3: The file is not UTF-8 text (byte 0xB3; it looks like EUC-JP); save it as UTF-8."
    )
    assert not Client.objects.exists()


# --- other hostile files ------------------------------------------------------------------------


@pytest.mark.parametrize("case", hostile.REFUSED, ids=lambda case: case.name)
def test_it_refuses_a_hostile_file_in_one_precise_line(db, as_user, tmp_path, case):
    path = write(tmp_path, case.name, case.data())
    before = written()

    status, _out, err = import_command(path, *as_user)

    assert status == 1
    assert err.splitlines() == [
        f"{path}{case.where}: {case.message}",
        "1 problem(s) found; nothing was imported.",
    ]
    assert written() == before


@pytest.mark.parametrize("case", hostile.HELD, ids=lambda case: case.name)
def test_it_refuses_a_yaml_file_too_large_to_expand(db, acme, tmp_path, case):
    path = write(tmp_path, case.name, case.data())
    before = written()

    status, _out, err = import_command(path)

    assert status == 1
    assert err.splitlines()[0] == f"{path}{case.where}: {case.message}"
    assert written() == before
