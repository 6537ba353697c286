"""Records kept after the contract ends (END-02): the plan of what is purged when.

Read-only: provider administrators and operators (the plan covers every client); every other
role gets 403. The purge itself runs as a periodic job (``retention_purge``) or with
``mamori retention purge``.
"""

from datetime import date

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from mamori.api.errors import forbidden, invalid, query_problem
from mamori.api.schemas import Day, Error
from mamori.clients.models import Client
from mamori.retention import services
from mamori.retention.views import may_read_plan

router = Router(tags=["retention"])


class BatchOut(Schema):
    kind: str = Field(..., description="notices, invoices, audit_events (and reports).")
    count: int
    purge_on: date = Field(..., description="The first day these records are purged.")


class ClientPlanOut(Schema):
    client: str = Field(..., description="The client's code.")
    state: str = Field(..., description="in_force, no_contract, keeping or due.")
    contract_end: date | None = Field(None, description="The day the last contract ended.")
    keep_until: date | None = Field(None, description="The last day the records are kept.")
    purge_on: date | None = None
    batches: list[BatchOut]


@router.get(
    "/plan",
    response={200: list[ClientPlanOut], 403: Error, 422: Error},
    summary="Retention plan",
    description="Per client: the contract end, the last day its records are kept and what is "
    "purged on which day. `client` limits it to one client; `on` shows the plan as of another "
    "day (default today).",
)
def retention_plan(request: HttpRequest, client: str | None = None, on: Day | None = None):
    if not may_read_plan(request.user):
        raise forbidden()
    clients = None
    if client is not None:
        found = Client.objects.filter(code=client).first()
        if found is None:
            raise invalid(
                query_problem("client", _("No client with the code %(code)s.") % {"code": client})
            )
        clients = [found]
    return [p.as_dict() for p in services.plan(on, clients)]
