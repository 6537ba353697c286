"""Version ordering per ecosystem, as OSV's ranges mean it (no Django in here).

- Debian and Ubuntu: dpkg's ordering (epoch, upstream version, Debian revision; ``~`` sorts
  before anything, even the end of the string), by python-debian's
  ``debian.debian_support.Version``.
- PyPI: PEP 440, by ``packaging``.
- npm, Go, crates.io and every ``SEMVER`` range: Semantic Versioning 2.0 precedence, by ``semver``
  (build metadata does not count; Go's leading ``v`` is dropped).
- WordPress core and plugins (``WordPress``, ``WordPress plugin``): PHP's ``version_compare``,
  which WordPress itself uses (``6.4`` < ``6.4.1``; dev < alpha < beta < RC < release < pl).
- Packagist: Composer's versions (``v1.2.3``, ``1.2.3.4``, ``1.0-beta2``, ``1.0-RC1``,
  ``1.0-patch1``) read as PEP 440 versions, whose ordering of pre-releases (dev < alpha < beta <
  RC < release < patch) is Composer's.

:func:`key` gives a sortable key; keys of one ecosystem compare with each other only.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import semver
from debian.debian_support import Version as DebianVersion
from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version


class VersionError(ValueError):
    """A version string the ecosystem's rules cannot read."""


#: Ecosystems whose ``ECOSYSTEM`` ranges Mamori can evaluate (the part before the first ``:``).
SUPPORTED = (
    "Debian",
    "Ubuntu",
    "PyPI",
    "npm",
    "Packagist",
    "Go",
    "crates.io",
    "WordPress",
    "WordPress plugin",
)


def base(ecosystem: str) -> str:
    """``Debian:12`` → ``Debian``; ``Ubuntu:22.04:LTS`` → ``Ubuntu``."""
    return ecosystem.split(":", 1)[0]


def supported(ecosystem: str) -> bool:
    return base(ecosystem) in SUPPORTED


def _debian(version: str) -> Any:
    try:
        return DebianVersion(version)
    except ValueError:
        raise VersionError(f"not a Debian version: {version!r}") from None


def _semver(version: str) -> Any:
    text = version[1:] if version[:1] in ("v", "V") else version
    try:
        return semver.Version.parse(text, optional_minor_and_patch=True)
    except (ValueError, TypeError):
        raise VersionError(f"not a semantic version: {version!r}") from None


def _pep440(version: str) -> Any:
    try:
        return Pep440Version(version)
    except InvalidVersion:
        raise VersionError(f"not a PEP 440 version: {version!r}") from None


_COMPOSER_PATCH = re.compile(r"[-_.]?(patch|pl|p)[-_.]?(?=\d)", re.IGNORECASE)


def _composer(version: str) -> Any:
    text = version.strip()
    if text[:1] in ("v", "V"):
        text = text[1:]
    text = _COMPOSER_PATCH.sub(".post", text)
    try:
        return Pep440Version(text)
    except InvalidVersion:
        raise VersionError(f"not a Composer version: {version!r}") from None


#: PHP's special forms in version_compare's order; a number ranks as "#", anything else first.
_PHP_FORMS = {"dev": 1, "alpha": 2, "a": 2, "beta": 3, "b": 3, "rc": 4, "pl": 6, "p": 6}
_PHP_NUMBER = 5
#: The end of a version: after every special form below a number, before a number and "pl"
#: (PHP: "1.0" > "1.0-beta", "1.0" < "1.0.0", "1.0" < "1.0pl1").
_PHP_END = (_PHP_NUMBER, -1)


def _php(version: str) -> Any:
    """A key ordering as PHP's ``version_compare``: ``-``, ``_``, ``+`` are dots, a change
    between digits and letters splits a part, numbers compare as numbers."""
    text = re.sub(r"[-_+]", ".", version.strip())
    text = re.sub(r"(?<=\d)(?=[^\d.])|(?<=[^\d.])(?=\d)", ".", text)
    parts = [p for p in text.split(".") if p]
    if not parts or not parts[0].isdigit() or len(parts) > 50:
        raise VersionError(f"not a WordPress version: {version!r}")
    key = []
    for part in parts:
        if part.isdigit():
            key.append((_PHP_NUMBER, int(part)))
        else:
            key.append((_PHP_FORMS.get(part.lower(), 0), 0))
    return (*key, _PHP_END)


_RULES = {
    "WordPress": _php,
    "WordPress plugin": _php,
    "Debian": _debian,
    "Ubuntu": _debian,
    "PyPI": _pep440,
    "npm": _semver,
    "Go": _semver,
    "crates.io": _semver,
    "Packagist": _composer,
    "SEMVER": _semver,
}


@lru_cache(maxsize=65536)
def key(ecosystem: str, version: str) -> Any:
    """A sortable key for ``version`` under ``ecosystem``'s rules (``"SEMVER"`` for an OSV
    ``SEMVER`` range). Raises :class:`VersionError` for a version the rules cannot read or an
    ecosystem Mamori cannot order."""
    rule = _RULES.get(base(ecosystem))
    if rule is None:
        raise VersionError(f"versions of {ecosystem!r} cannot be ordered")
    if not isinstance(version, str) or not version.strip():
        raise VersionError("empty version")
    return rule(version.strip())


def compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` sorts before, with or after ``b``."""
    ka, kb = key(ecosystem, a), key(ecosystem, b)
    return (ka > kb) - (ka < kb)


def package_name(ecosystem: str, name: str) -> str:
    """The name as the ecosystem compares names: PyPI's are normalised (PEP 503), Debian's and
    Ubuntu's are lower case; others as written."""
    name = name.strip()
    eco = base(ecosystem)
    if eco == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    if eco in ("Debian", "Ubuntu", "Packagist", "WordPress", "WordPress plugin"):
        return name.lower()
    return name
