from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdvisoriesConfig(AppConfig):
    name = "mamori.advisories"
    label = "advisories"
    verbose_name = _("Vulnerabilities and updates")

    def ready(self) -> None:
        from mamori.advisories import matching
        from mamori.software.signals import collected

        collected.connect(matching.after_collection, dispatch_uid="advisories-after-collection")
