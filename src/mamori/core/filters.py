"""The one vocabulary of the list pages' filters (issue 15: filters say the same word
everywhere): "All" for no restriction, whatever is filtered; the button says "Filter"."""

from django.utils.translation import gettext_lazy as _

ALL = _("All")


def with_all(choices) -> list:
    """``choices`` led by the choice that restricts nothing."""
    return [("", ALL), *choices]
