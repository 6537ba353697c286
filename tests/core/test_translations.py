"""Every user-visible string has its Japanese, and the compiled catalogue matches the source."""

import gettext
import subprocess
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[2] / "src" / "mamori" / "locale" / "ja" / "LC_MESSAGES"


def read_po(path: Path) -> tuple[dict[str, str], list[str]]:
    """msgid → msgstr of a .po file, and the msgids marked fuzzy (msgfmt validates it)."""
    subprocess.run(["msgfmt", "--check", "-o", "/dev/null", str(path)], check=True)
    translations: dict[str, str] = {}
    fuzzy: list[str] = []
    compiled = path.with_suffix(".test.mo")
    try:
        subprocess.run(["msgfmt", "-o", str(compiled), str(path)], check=True)
        with compiled.open("rb") as f:
            translations = dict(gettext.GNUTranslations(f)._catalog)
    finally:
        compiled.unlink(missing_ok=True)
    text = path.read_text(encoding="utf-8")
    for block in text.split("\n\n"):
        if "#, fuzzy" in block and 'msgid ""\nmsgstr ""\n"Project' not in block:
            fuzzy.append(block.strip().splitlines()[-2])
    return translations, fuzzy


@pytest.fixture(scope="module")
def catalogue():
    if not LOCALE.joinpath("django.po").exists():
        pytest.fail("the Japanese catalogue is missing")
    return read_po(LOCALE / "django.po")


def test_it_has_no_fuzzy_or_untranslated_japanese(catalogue):
    _, fuzzy = catalogue
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    untranslated = text.count('msgstr ""\n\n') + text.endswith('msgstr ""\n')
    assert fuzzy == []
    assert untranslated == 0


def test_the_compiled_catalogue_matches_the_source(catalogue):
    translations, _ = catalogue
    with (LOCALE / "django.mo").open("rb") as f:
        shipped = dict(gettext.GNUTranslations(f)._catalog)
    assert shipped == translations, "run: cd src/mamori && django-admin compilemessages"
