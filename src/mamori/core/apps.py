from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "mamori.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from mamori.core import signals

        signals.connect()
