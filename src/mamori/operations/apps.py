from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OperationsConfig(AppConfig):
    """The runtime on top of every other app: the periodic jobs, the embedded runner, the
    ``serve``, ``runchecks`` and ``demo`` commands and the dashboard."""

    name = "mamori.operations"
    label = "operations"
    verbose_name = _("Operations")
