from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "mamori.billing"
    label = "billing"
    verbose_name = _("Fees and invoices")

    def ready(self) -> None:
        # An invoice's e-mail carries its PDF, made by the outbox when it sends (billing.sending).
        from mamori.billing import estimates, sending

        sending.register()
        estimates.register()
