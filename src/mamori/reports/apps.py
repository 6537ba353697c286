from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "mamori.reports"
    label = "reports"
    verbose_name = _("Monthly reports")

    def ready(self) -> None:
        from mamori.reports import services

        services.register()
