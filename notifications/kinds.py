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
# The channels that reach a person (a webhook reaches a partner's server, configured per endpoint).
PERSON_CHANNELS: tuple[str, ...] = (EMAIL, SMS, LIVE)

# Why a person cannot turn an essential kind off: shown on the preferences page and in the e-mail.
MONEY = "money moved or failed to move"
DISPUTE = "a dispute on your transaction"
SECURITY = "a security check on your account's activity"
ACTION = "something that needs your action"


@dataclass(frozen=True)
class KindSpec:
    name: str
    required: frozenset[str]
    default_channels: tuple[str, ...] = _PARTY
    description: str = ""
    # Non-empty: the kind cannot be turned off (money, disputes, security, failures needing action).
    essential: str = ""

    @property
    def person_channels(self) -> tuple[str, ...]:
        """The channels of this kind that reach a person, in the order people read them."""
        return tuple(c for c in PERSON_CHANNELS if c in self.default_channels)


def _kind(
    name: str, required: str, description: str, channels: tuple[str, ...] = _PARTY, *, essential: str = ""
) -> KindSpec:
    return KindSpec(
        name=name,
        required=frozenset(required.split()),
        default_channels=channels,
        description=description,
        essential=essential,
    )


KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in [
        _kind("transaction_initiated", "reference amount currency", "An escrow transaction was opened."),
        _kind("verification_assigned", "reference verification_type due_date", "A verification task was assigned."),
        _kind("verification_completed", "reference verification_type", "A verification passed."),
        _kind(
            "verification_failed",
            "reference verification_type reason",
            "A verification failed.",
            essential=ACTION,
        ),
        _kind(
            "verification_overdue",
            "reference verification_type due_date",
            "A verification is past its deadline (escalation).",
            (EMAIL, SMS, LIVE),
            essential=ACTION,
        ),
        _kind("payment_released", "reference amount currency", "Funds were released to a payee.", essential=MONEY),
        _kind("payment_failed", "reference amount currency reason", "A payout failed.", essential=MONEY),
        _kind("settlement_completed", "reference", "The transaction settled.", essential=MONEY),
        _kind("dispute_raised", "reference reason", "A party raised a dispute.", essential=DISPUTE),
        _kind("dispute_resolved", "reference resolution", "A dispute was resolved.", essential=DISPUTE),
        _kind("endorsement_received", "reference employer_name", "An endorsement request was received."),
        _kind(
            "endorsement_on_hold_funds",
            "reference employer_name amount_required currency",
            "An endorsement waits for funds in the endorsement account.",
            essential=ACTION,
        ),
        _kind("endorsement_confirmed", "reference employer_name", "The insurer confirmed an endorsement."),
        _kind(
            "endorsement_rejected",
            "reference employer_name reason",
            "The insurer rejected an endorsement.",
            essential=ACTION,
        ),
        _kind("endorsement_activated", "reference employer_name", "Cover is in force: the insurer activated it."),
        _kind(
            "endorsement_woken",
            "reference employer_name",
            "An endorsement that waited for funds got them and is on its way to the insurer.",
        ),
        _kind(
            "endorsement_failed",
            "reference employer_name reason",
            "An endorsement failed and will not go ahead.",
            essential=ACTION,
        ),
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
            essential=SECURITY,
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
            essential=ACTION,
        ),
        _kind(
            "reconciliation_breaks_found",
            "reference break_count",
            "Reconciliation found breaks to investigate.",
            (EMAIL, SMS, LIVE),
            essential=ACTION,
        ),
        _kind("webhook_test", "message", "A test event a partner asks for.", (WEBHOOK,)),
    ]
}


def kind_essential(name: str, channel: str) -> str:
    """Why `name` on `channel` cannot be turned off, or "" when it can (webhooks: per endpoint)."""
    spec = KINDS.get(name)
    return spec.essential if spec is not None and channel in PERSON_CHANNELS else ""


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
