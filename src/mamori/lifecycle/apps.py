from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LifecycleConfig(AppConfig):
    name = "mamori.lifecycle"
    label = "lifecycle"
    verbose_name = _("Certificate lifecycle")
