"""Version ordering per ecosystem (MNT-02). The known orderings come from the specifications:
Debian Policy §5.6.12 (epoch, upstream version, revision; ``~`` before anything, even the end),
PEP 440, Semantic Versioning 2.0 §11, and Composer's stability order."""

from __future__ import annotations

import itertools

import pytest

from mamori.advisories import versions

pytestmark = pytest.mark.req("MNT-02")


def ascending(ecosystem: str, ordered: list[str]) -> None:
    for lower, higher in itertools.pairwise(ordered):
        assert versions.compare(ecosystem, lower, higher) == -1, f"{lower} < {higher}"
        assert versions.compare(ecosystem, higher, lower) == 1, f"{higher} > {lower}"
    assert sorted(reversed(ordered), key=lambda v: versions.key(ecosystem, v)) == ordered


def test_debian_policy_tilde_example():
    # Policy §5.6.12: "~~, ~~a, ~, the empty part, a" sort in this order.
    ascending("Debian:12", ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"])


def test_debian_epoch_beats_everything_else():
    ascending("Debian", ["9.9-9", "1:0.1-1", "1:0.2-1", "2:0.0"])
    assert versions.compare("Debian", "0:1.2-1", "1.2-1") == 0  # no epoch is epoch 0


def test_debian_revision_and_numbers_compare_as_numbers():
    ascending("Debian", ["1.0-1", "1.0-2", "1.0-9", "1.0-10", "1.0.1-1", "1.10-1"])


def test_debian_security_updates_sort_below_the_next_release():
    # A stable security update (…~deb12u2) is below the version it was backported from.
    ascending(
        "Debian:12",
        ["3.0.11-1~deb12u1", "3.0.11-1~deb12u2", "3.0.11-1", "3.0.13-1~deb12u1", "3.0.13-1"],
    )
    ascending("Ubuntu:22.04:LTS", ["1.2-1ubuntu0.1", "1.2-1ubuntu0.2", "1.2-1ubuntu1"])
    ascending("Debian", ["1:9.2p1-2", "1:9.2p1-2+deb12u1", "1:9.2p1-2+deb12u3"])


def test_pep440():
    ascending("PyPI", ["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.1"])
    assert versions.compare("PyPI", "1.0", "1.0.0") == 0


def test_semver_precedence_from_the_specification():
    # Semantic Versioning 2.0 §11.
    ascending(
        "npm",
        [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ],
    )
    assert versions.compare("npm", "1.0.0+build.1", "1.0.0") == 0  # build metadata ignored
    assert versions.compare("Go", "v1.2.3", "1.2.3") == 0


def test_composer_stabilities():
    ascending("Packagist", ["1.0-beta1", "1.0-RC1", "1.0", "1.0-patch1", "1.0.1", "v1.1.0"])


@pytest.mark.parametrize(
    "ecosystem, bad",
    [("Debian", "1.0 beta"), ("PyPI", "not-a-version"), ("npm", "banana"), ("Maven", "1.0")],
)
def test_unreadable_versions_are_refused(ecosystem, bad):
    with pytest.raises(versions.VersionError):
        versions.key(ecosystem, bad)


def test_names_compare_as_the_ecosystem_does():
    assert versions.package_name("PyPI", "Jinja2") == versions.package_name("PyPI", "jinja2")
    assert versions.package_name("PyPI", "zope.interface") == "zope-interface"
    assert versions.package_name("npm", "React") != versions.package_name("npm", "react")
