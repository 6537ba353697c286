"""Template filters for notices: problem codes and durations in the words of the active
language."""

import datetime as dt

from django import template
from django.utils.translation import gettext as _

from mamori.certificates.problems import problem_label, problem_text

register = template.Library()


@register.filter
def problem_explained(code: str) -> str:
    return problem_text(code)


@register.filter
def problem_name(code: str) -> str:
    return problem_label(code)


@register.filter
def duration_text(value: dt.timedelta | None) -> str:
    """A duration to the minute: "3 h 05 min", "3時間05分"; "under a minute" below one."""
    if value is None:
        return ""
    minutes = int(value.total_seconds() // 60)
    if minutes < 1:
        return _("under a minute")
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(days)d d %(hours)d h %(minutes)02d min") % {
            "days": days,
            "hours": hours,
            "minutes": minutes,
        }
    if hours:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": minutes}
