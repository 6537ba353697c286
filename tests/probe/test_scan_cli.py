"""``mamori scan``: output formats, exit statuses, target files and trust options."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mamori.probe.scan_cli import main
from tests.probe.conftest import ProbePKI, closed_port
from tests.support.nginx import Nginx

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime.now(dt.UTC)


@dataclass
class Endpoints:
    ok: str
    expired: str
    ca_file: Path
    port: int


@pytest.fixture(scope="module")
def endpoints(nginx: Nginx, pki: ProbePKI, tmp_path_factory) -> Endpoints:
    inter = pki.intermediate
    port = nginx.add_site("ok", cert=inter.issue(["ok.test"]))
    nginx.add_site(
        "expired",
        cert=inter.issue(
            ["expired.test"],
            not_before=NOW - dt.timedelta(days=90),
            not_after=NOW - dt.timedelta(days=3),
        ),
        port=port,
    )
    nginx.start()
    ca_file = tmp_path_factory.mktemp("ca") / "root.pem"
    ca_file.write_text(pki.root.cert_pem)
    return Endpoints(
        ok=f"ok.test:{port}{{127.0.0.1}}",
        expired=f"expired.test:{port}{{127.0.0.1}}",
        ca_file=ca_file,
        port=port,
    )


@pytest.fixture(autouse=True)
def no_ambient_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAMORI_CA_BUNDLE", raising=False)
    monkeypatch.delenv("MAMORI_CA_BUNDLE_FILE", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.req("CERT-02")
def test_it_prints_json_and_exits_0_when_all_is_well(capsys, endpoints: Endpoints) -> None:
    status, out, err = run(capsys, "--json", "--ca-file", str(endpoints.ca_file), endpoints.ok)
    assert status == 0, out + err
    [item] = json.loads(out)
    assert list(item) == [
        "target", "host", "port", "sni", "ok", "problems", "details", "certificate", "chain",
        "tls_version", "elapsed_ms", "error",
    ]  # fmt: skip
    assert item["target"] == endpoints.ok and item["ok"] is True
    assert item["host"] == "ok.test" and item["sni"] == "ok.test"
    assert item["certificate"]["subject"] == "CN=ok.test"
    assert item["certificate"]["sans"] == ["ok.test"]
    assert len(item["chain"]) == 2 and item["tls_version"] == "TLSv1.3"
    assert item["problems"] == [] and item["details"] == {} and item["error"] is None


@pytest.mark.req("CERT-02")
def test_it_exits_1_and_explains_each_problem(capsys, endpoints: Endpoints) -> None:
    unreachable = f"127.0.0.1:{closed_port()}"
    status, out, _ = run(
        capsys, "--ca-file", str(endpoints.ca_file), endpoints.ok, endpoints.expired, unreachable
    )
    assert status == 1
    lines = out.splitlines()
    assert lines[0].split() == ["TARGET", "STATUS", "DAYS", "EXPIRES", "ISSUER", "TLS"]
    ok_row, expired_row, unreachable_row = lines[1:4]
    assert ok_row.split()[:3] == [endpoints.ok, "OK", "89"]
    assert "Mamori Probe Test Issuing CA" in ok_row and ok_row.endswith("TLSv1.3")
    assert expired_row.split()[:3] == [endpoints.expired, "expired", "-3"]
    assert unreachable_row.split() == [unreachable, "unreachable", "-", "-", "-", "-"]
    assert f"{endpoints.expired}: The certificate has expired: certificate expired on " in out
    assert f"{unreachable}: The server could not be reached: connection to " in out
    assert lines[-1] == "3 targets: 1 OK, 2 with problems"


@pytest.mark.req("CERT-02")
def test_it_reads_targets_from_a_file_and_stdin(capsys, monkeypatch, endpoints, tmp_path) -> None:
    listing = tmp_path / "targets.txt"
    listing.write_text(f"# our endpoints\n\n{endpoints.ok}   # shop\n  {endpoints.expired}\n")
    status, out, _ = run(capsys, "--json", "--ca-file", str(endpoints.ca_file), "-f", str(listing))
    assert status == 1
    assert [item["target"] for item in json.loads(out)] == [endpoints.ok, endpoints.expired]

    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{endpoints.ok}\n"))
    status, out, _ = run(capsys, "--json", "--ca-file", str(endpoints.ca_file), "-f", "-")
    assert status == 0 and len(json.loads(out)) == 1


@pytest.mark.req("CERT-02")
@pytest.mark.parametrize("variable", ["MAMORI_CA_BUNDLE", "MAMORI_CA_BUNDLE_FILE"])
def test_it_trusts_the_bundle_named_in_the_environment(capsys, monkeypatch, endpoints, variable):
    status, _, _ = run(capsys, endpoints.ok)
    assert status == 1  # the private root is not trusted by default
    monkeypatch.setenv(variable, str(endpoints.ca_file))
    status, out, _ = run(capsys, endpoints.ok)
    assert status == 0, out


def test_it_sends_the_given_sni_name(capsys, endpoints: Endpoints) -> None:
    target = f"127.0.0.1:{endpoints.port}"
    ca = str(endpoints.ca_file)
    status, out, _ = run(capsys, "--json", "--ca-file", ca, "--sni", "expired.test", target)
    [item] = json.loads(out)
    assert status == 1 and item["sni"] == "expired.test" and item["problems"] == ["expired"]


def test_it_spreads_a_scan_over_worker_processes_in_order(capsys, endpoints: Endpoints) -> None:
    targets = [endpoints.ok, endpoints.expired] * 4
    status, out, _ = run(
        capsys, "--json", "--workers", "2", "--ca-file", str(endpoints.ca_file), *targets
    )
    assert status == 1
    items = json.loads(out)
    assert [item["target"] for item in items] == targets
    assert [item["ok"] for item in items] == [True, False] * 4


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["http://www.example.jp"], "unsupported scheme 'http'"),
        (["www.example.jp:99999"], "invalid port 99999"),
        ([], "no targets given"),
        (["-f", "/nonexistent/targets.txt"], "cannot read /nonexistent/targets.txt"),
        (["--ca-file", "/nonexistent/ca.pem", "x.test"], "cannot read CA bundle"),
        (["--warn-days", "soon", "x.test"], "argument --warn-days"),
        (["--timeout", "0", "x.test"], "argument --timeout"),
        (["--concurrency", "0", "x.test"], "argument --concurrency"),
        (["--bogus", "x.test"], "unrecognized arguments: --bogus"),
    ],
)
def test_it_exits_2_with_one_line_on_usage_errors(capsys, argv: list[str], message: str) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("mamori scan: error: ")
    assert message in err and "Traceback" not in err


def test_it_names_the_line_of_a_bad_target_in_a_file(capsys, tmp_path: Path) -> None:
    listing = tmp_path / "targets.txt"
    listing.write_text("good.example\nftp://bad.example\n")
    status, _, err = run(capsys, "-f", str(listing))
    assert status == 2
    assert err.startswith(f"mamori scan: error: {listing}:2: unsupported scheme 'ftp'")


def test_it_refuses_a_ca_bundle_without_certificates(capsys, monkeypatch, tmp_path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("hello")
    monkeypatch.setenv("MAMORI_CA_BUNDLE", str(bogus))
    status, _, err = run(capsys, "x.test")
    assert status == 2 and "no PEM certificate found" in err


@pytest.mark.req("CERT-02")
def test_it_runs_as_a_module_without_django(endpoints: Endpoints) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env["MAMORI_CA_BUNDLE"] = str(endpoints.ca_file)
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mamori.probe.scan_cli", "--json",
         endpoints.ok, endpoints.expired],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stderr[-2000:]
    assert [item["ok"] for item in json.loads(completed.stdout)] == [True, False]
    assert "django" not in completed.stderr.lower()  # -X importtime lists every import

    usage = subprocess.run(
        [sys.executable, "-m", "mamori.probe.scan_cli", "not a target"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert usage.returncode == 2
    assert (
        usage.stderr == "mamori scan: error: invalid target 'not a target': contains whitespace\n"
    )
