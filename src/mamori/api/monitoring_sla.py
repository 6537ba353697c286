"""SLA credits for billing (MON-07): each policy's month, its figures and credit.

Read-only: provider staff read the clients they see, client users their own. A credit is safe
to bill once ``finalized`` is true (it never changes after); until then it is recomputed
(``provisional`` when some counted downtime has no cause yet).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from mamori.api.errors import invalid, query_problem
from mamori.monitoring import sla
from mamori.monitoring.models import SlaCredit

router = Router(tags=["monitoring"])


class SlaCreditOut(Schema):
    id: int
    client: str = Field(..., description="The client's code.")
    client_name: str
    policy: int
    policy_name: str
    site: int | None
    server: int | None
    month: str = Field(..., description="YYYY-MM, in the operators' time zone.")
    minutes_in_month: int
    maintenance_minutes: int
    downtime_minutes: int = Field(..., description="Downtime counted against the provider.")
    excluded_minutes: int = Field(..., description="Downtime of causes that do not count.")
    client_delay_minutes: int = Field(
        ..., description="Time waiting on the client (CT-09): left out of the downtime."
    )
    longest_outage_minutes: int
    availability_percent: Decimal
    target_percent: Decimal
    credit_percent: Decimal
    credit_amount: Decimal = Field(..., description="Whole units of the currency, rounded down.")
    monthly_fee: Decimal
    currency: str
    provisional: bool
    finalized: bool
    computed_at: datetime
    finalized_at: datetime | None

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.policy.client.code

    @staticmethod
    def resolve_client_name(obj) -> str:
        return obj.policy.client.name

    @staticmethod
    def resolve_policy(obj) -> int:
        return obj.policy_id

    @staticmethod
    def resolve_policy_name(obj) -> str:
        return obj.policy.name

    @staticmethod
    def resolve_site(obj) -> int | None:
        return obj.policy.site_id

    @staticmethod
    def resolve_server(obj) -> int | None:
        return obj.policy.server_id

    @staticmethod
    def resolve_month(obj) -> str:
        return f"{obj.month:%Y-%m}"

    @staticmethod
    def resolve_target_percent(obj) -> Decimal:
        return obj.policy.target_percent

    @staticmethod
    def resolve_monthly_fee(obj) -> Decimal:
        return obj.policy.monthly_fee

    @staticmethod
    def resolve_currency(obj) -> str:
        return obj.policy.currency

    @staticmethod
    def resolve_finalized(obj) -> bool:
        return obj.finalized_at is not None


@router.get("/credits", response=list[SlaCreditOut], summary="List SLA credits for billing")
@paginate
def list_sla_credits(
    request: HttpRequest,
    month: str | None = None,
    client: str | None = None,
    finalized: bool | None = None,
):
    """Credits of the clients you may see, newest month first; ``month`` is YYYY-MM."""
    credits = SlaCredit.objects.visible_to(request.auth).select_related("policy__client")
    if month:
        try:
            credits = credits.filter(month=sla.parse_month(month))
        except sla.SlaError as exc:
            raise invalid(query_problem("month", str(exc))) from None
    if client:
        credits = credits.filter(policy__client__code=client)
    if finalized is not None:
        credits = credits.filter(finalized_at__isnull=not finalized)
    return credits.order_by("-month", "policy__client__code", "policy__name", "pk")
