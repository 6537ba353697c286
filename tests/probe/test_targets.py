"""parse_target: every accepted spelling, and a precise error for everything else."""

from __future__ import annotations

import pytest

from mamori.probe import Target, TargetError, parse_target


@pytest.mark.parametrize(
    ("text", "host", "port", "sni", "address"),
    [
        ("www.example.jp", "www.example.jp", 443, "www.example.jp", None),
        ("  WWW.Example.JP.  ", "www.example.jp", 443, "www.example.jp", None),
        ("www.example.jp:8443", "www.example.jp", 8443, "www.example.jp", None),
        ("https://www.example.jp", "www.example.jp", 443, "www.example.jp", None),
        (
            "https://www.example.jp:8443/path?q=1#frag",
            "www.example.jp",
            8443,
            "www.example.jp",
            None,
        ),
        ("HTTPS://user@www.example.jp/", "www.example.jp", 443, "www.example.jp", None),
        ("192.0.2.10", "192.0.2.10", 443, None, None),
        ("192.0.2.10:993", "192.0.2.10", 993, None, None),
        ("2001:db8::1", "2001:db8::1", 443, None, None),
        ("[2001:db8::1]", "2001:db8::1", 443, None, None),
        ("[2001:DB8:0::1]:8443", "2001:db8::1", 8443, None, None),
        ("https://[::1]:8443/", "::1", 8443, None, None),
        ("localhost", "localhost", 443, "localhost", None),
        ("mail_gw.internal:465", "mail_gw.internal", 465, "mail_gw.internal", None),
        ("bücher.example", "xn--bcher-kva.example", 443, "xn--bcher-kva.example", None),
        ("例え.テスト:8443", "xn--r8jz45g.xn--zckzah", 8443, "xn--r8jz45g.xn--zckzah", None),
        ("ｗｗｗ．example．jp", "www.example.jp", 443, "www.example.jp", None),
        ("www.example.jp:443{192.0.2.7}", "www.example.jp", 443, "www.example.jp", "192.0.2.7"),
        ("www.example.jp{2001:db8::7}", "www.example.jp", 443, "www.example.jp", "2001:db8::7"),
    ],
)
def test_it_parses_every_accepted_spelling(text, host, port, sni, address) -> None:
    target = parse_target(text)
    assert (target.host, target.port, target.sni, target.address) == (host, port, sni, address)
    assert target.label == text.strip()
    assert target.ca_pem is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty target"),
        ("   ", "empty target"),
        ("http://www.example.jp", "unsupported scheme 'http'"),
        ("ftp://www.example.jp", "unsupported scheme 'ftp'"),
        ("https://", "invalid URL"),
        ("www.example.jp:0", "invalid port 0"),
        ("www.example.jp:65536", "invalid port 65536"),
        ("www.example.jp:https", "invalid port 'https'"),
        ("www.example.jp:", "invalid port ''"),
        ("[2001:db8::1]:99999", "invalid port 99999"),
        ("[2001:db8::1", "missing ']'"),
        ("[www.example.jp]:443", "is not an IPv6 address"),
        ("[::1]x", "unexpected 'x'"),
        ("2001:db8::zz", "not an IPv6 address"),
        ("www example.jp", "contains whitespace"),
        ("-bad-.example.jp", "bad label '-bad-'"),
        ("a..b", "bad label ''"),
        ("256.1.1.1", "is not a valid IP address or hostname"),
        ("1.2.3", "is not a valid IP address or hostname"),
        ("x" * 64 + ".example", "bad label"),
        (":443", "no host"),
        ("www.example.jp{not-an-ip}", "is not an IP address"),
        ("www.example.jp{192.0.2.1", "unbalanced braces"),
        ("192.0.2.1{192.0.2.2}", "needs a hostname"),
        ("exa$mple.jp", "bad label 'exa$mple'"),
    ],
)
def test_it_rejects_bad_input_with_a_precise_message(text: str, message: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse_target(text)
    assert message in str(caught.value)


def test_it_uses_the_default_port_when_none_is_given() -> None:
    assert parse_target("www.example.jp", default_port=8443).port == 8443
    assert parse_target("www.example.jp:443", default_port=8443).port == 443


def test_it_overrides_the_sni_name() -> None:
    target = parse_target("192.0.2.10:443", sni="Www.Example.JP")
    assert target.sni == "www.example.jp"
    assert target.reference_name == "www.example.jp"
    assert parse_target("www.example.jp", sni="").sni is None
    with pytest.raises(TargetError, match="SNI cannot carry an IP address"):
        parse_target("www.example.jp", sni="192.0.2.1")


def test_it_derives_sni_and_label_in_the_target_itself() -> None:
    assert Target(host="www.example.jp").sni == "www.example.jp"
    assert Target(host="192.0.2.1").sni is None
    assert Target(host="::1", port=8443).label == "[::1]:8443"
    assert Target(host="www.example.jp", address="192.0.2.1").connect_host == "192.0.2.1"
    with pytest.raises(TargetError):
        Target(host="www.example.jp", port=0)
