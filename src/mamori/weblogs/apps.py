from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WeblogsConfig(AppConfig):
    name = "mamori.weblogs"
    label = "weblogs"
    verbose_name = _("Visitors")
