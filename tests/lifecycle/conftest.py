"""The lifecycle tests read messages and pages in English: Mamori's default language is Japanese
(background jobs and commands speak it, and some fixture users chose it). A test that checks a
message's words sets the language here instead of depending on those defaults;
tests/core/test_translations.py and tests/web/test_language.py check the Japanese."""

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def english_messages(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def _in_english(user):
    if user.language != "en":
        user.language = "en"
        user.save(update_fields=["language"])
    return user


@pytest.fixture
def provider_admin(provider_admin):
    return _in_english(provider_admin)


@pytest.fixture
def operator(operator):
    return _in_english(operator)


@pytest.fixture
def subcontractor(subcontractor):
    return _in_english(subcontractor)


@pytest.fixture
def owner(owner):
    return _in_english(owner)


@pytest.fixture
def member(member):
    return _in_english(member)
