"""The registry of notification kinds: each names its required context and its default channels.

Every kind has three templates under `templates/notifications/<kind>/` (subject.txt, body.txt,
body.html); a test renders each with its required variables so a typo fails CI, not a send.
"""

from __future__ import annotations

from dataclasses import dataclass

from escrow_project.common.errors import DomainError

EMAIL = "email"
SMS = "sms"
WEBHOOK = "webhook"
LIVE = "live"
ALL_CHANNELS: tuple[str, ...] = (EMAIL, SMS, WEBHOOK, LIVE)

_PARTY = (EMAIL, LIVE, WEBHOOK)


@dataclass(frozen=True)
class KindSpec:
    name: str
    required: frozenset[str]
    default_channels: tuple[str, ...] = _PARTY
    description: str = ""


def _kind(name: str, required: str, description: str, channels: tuple[str, ...] = _PARTY) -> KindSpec:
    return KindSpec(name=name, required=frozenset(required.split()), default_channels=channels, description=description)


KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in [
        _kind("transaction_initiated", "reference amount currency", "An escrow transaction was opened."),
        _kind("verification_assigned", "reference verification_type due_date", "A verification task was assigned."),
        _kind("verification_completed", "reference verification_type", "A verification passed."),
        _kind("verification_failed", "reference verification_type reason", "A verification failed."),
        _kind(
            "verification_overdue",
            "reference verification_type due_date",
            "A verification is past its deadline (escalation).",
            (EMAIL, SMS, LIVE),
        ),
        _kind("payment_released", "reference amount currency", "Funds were released to a payee."),
        _kind("payment_failed", "reference amount currency reason", "A payout failed."),
        _kind("settlement_completed", "reference", "The transaction settled."),
        _kind("dispute_raised", "reference reason", "A party raised a dispute."),
        _kind("dispute_resolved", "reference resolution", "A dispute was resolved."),
        _kind("endorsement_received", "reference employer_name", "An endorsement request was received."),
        _kind(
            "endorsement_on_hold_funds",
            "reference employer_name amount_required currency",
            "An endorsement waits for funds in the endorsement account.",
        ),
        _kind("endorsement_confirmed", "reference employer_name", "The insurer confirmed an endorsement."),
        _kind("endorsement_rejected", "reference employer_name reason", "The insurer rejected an endorsement."),
        _kind("endorsement_activated", "reference employer_name", "Cover is in force: the insurer activated it."),
        _kind(
            "endorsement_woken",
            "reference employer_name",
            "An endorsement that waited for funds got them and is on its way to the insurer.",
        ),
        _kind("endorsement_failed", "reference employer_name reason", "An endorsement failed and will not go ahead."),
        _kind(
            "endorsement_dead_lettered",
            "reference employer_name reason",
            "The insurer could not be reached for an endorsement; an operator is looking at it.",
        ),
        _kind(
            "endorsement_batch_finished",
            "file_name employer_name accepted rejected duplicate",
            "An uploaded endorsement file was processed (with its counts).",
        ),
        _kind(
            "endorsement_batch_held",
            "file_name employer_name reason",
            "An uploaded endorsement file is far above the employer's usual pattern and waits for review.",
            (EMAIL, SMS, LIVE),
        ),
        _kind(
            "endorsement_batch_reviewed",
            "file_name employer_name decision",
            "An operator released or rejected a held endorsement file.",
        ),
        _kind(
            "ea_running_low",
            "employer_name currency days_left available needed_now recommended_topup",
            "An endorsement account will run dry soon at the employer's usual pace (forecast).",
            (EMAIL, LIVE, WEBHOOK),
        ),
        _kind(
            "ea_low_balance",
            "employer_name balance threshold currency",
            "An endorsement account fell below its threshold.",
        ),
        _kind(
            "reconciliation_breaks_found",
            "reference break_count",
            "Reconciliation found breaks to investigate.",
            (EMAIL, SMS, LIVE),
        ),
        _kind("webhook_test", "message", "A test event a partner asks for.", (WEBHOOK,)),
    ]
}


def kind_get(name: str) -> KindSpec:
    """The spec of a kind, or a DomainError naming the known kinds."""
    try:
        return KINDS[name]
    except KeyError:
        raise DomainError(
            f"Unknown notification kind {name!r}.",
            code="notification_kind_unknown",
            errors=[{"field": "kind", "code": "unknown", "message": f"Known kinds: {', '.join(sorted(KINDS))}."}],
        ) from None
