"""The client page's card of backup jobs and their last results."""

from __future__ import annotations

from django import template

from mamori.core.permissions import may_change

register = template.Library()


@register.inclusion_tag("backups/_client_card.html", takes_context=True)
def client_backups(context, client):
    from mamori.backups.models import BackupJob
    from mamori.backups.views import last_runs

    user = context.get("user")
    jobs = list(BackupJob.objects.visible_to(user).filter(client=client)) if user else []
    last_runs(jobs)
    return {
        "client": client,
        "jobs": jobs,
        "may_add": user is not None and may_change(user, BackupJob(client=client)),
    }
