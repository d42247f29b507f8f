"""Who wants what: per-user and per-organization preferences, most specific first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from escrow_project.common.errors import DomainError
from identity.models import Membership, User
from notifications.kinds import ALL_CHANNELS, EMAIL, KINDS, kind_essential
from notifications.models import NotificationPreference
from notifications.unsubscribe import Unsubscribe, unsubscribe_token_read


@dataclass(frozen=True)
class Choice:
    enabled: bool = True
    digest: bool = False


def _pick(rows: list[NotificationPreference], kind: str) -> NotificationPreference | None:
    specific = [r for r in rows if r.kind == kind]
    if specific:
        return specific[0]
    general = [r for r in rows if r.kind == ""]
    return general[0] if general else None


def preference_resolve(*, kind: str, channel: str, user_id: int | None, organization_id: int | None) -> Choice:
    """User over organization, a named kind over every kind; default on, immediate. An essential
    kind (money, disputes, security, failures needing action) reaches a person at once, whatever
    an older or broader preference says."""
    if kind_essential(kind, channel):
        return Choice()
    kind_filter = Q(kind=kind) | Q(kind="")
    if user_id is not None:
        rows = list(NotificationPreference.objects.filter(kind_filter, user_id=user_id, channel=channel))
        row = _pick(rows, kind)
        if row is not None:
            return Choice(enabled=row.enabled, digest=row.digest and channel == EMAIL)
        org_ids = list(Membership.objects.filter(user_id=user_id).values_list("organization_id", flat=True))
    else:
        org_ids = [organization_id] if organization_id is not None else []
    if org_ids:
        rows = list(NotificationPreference.objects.filter(kind_filter, organization_id__in=org_ids, channel=channel))
        # Any of the user's organizations opting out of a kind wins over the others' defaults.
        row = _pick(sorted(rows, key=lambda r: r.enabled), kind)
        if row is not None:
            return Choice(enabled=row.enabled, digest=row.digest and channel == EMAIL)
    return Choice()


def _resolved(
    own: list[NotificationPreference], theirs: list[NotificationPreference], kind: str, channel: str
) -> Choice:
    """preference_resolve over rows already read: `own` the user's, `theirs` their organizations'
    sorted opt-outs first."""
    if kind_essential(kind, channel):
        return Choice()
    for rows in (own, theirs):
        row = _pick([r for r in rows if r.channel == channel and r.kind in (kind, "")], kind)
        if row is not None:
            return Choice(enabled=row.enabled, digest=row.digest and channel == EMAIL)
    return Choice()


def preferences_of_user(*, user_id: int) -> Callable[[str, str], Choice]:
    """preference_resolve for one user over many kinds and channels, from three queries in all
    (the preferences page shows some fifty cells)."""
    own = list(NotificationPreference.objects.filter(user_id=user_id))
    org_ids = list(Membership.objects.filter(user_id=user_id).values_list("organization_id", flat=True))
    theirs = sorted(NotificationPreference.objects.filter(organization_id__in=org_ids), key=lambda r: r.enabled)
    return lambda kind, channel: _resolved(own, theirs, kind, channel)


def preferences_of_many(
    *, kind: str, user_ids: set[int], organization_ids: set[int]
) -> Callable[[str, int | None, int | None], Choice]:
    """preference_resolve of one kind for many users and organizations (a fan-out's recipients),
    from two queries however many there are: resolve(channel, user_id, organization_id)."""
    memberships: dict[int, list[int]] = {}
    for user_id, org_id in Membership.objects.filter(user_id__in=user_ids).values_list("user_id", "organization_id"):
        memberships.setdefault(user_id, []).append(org_id)
    org_ids = organization_ids.union(*memberships.values())
    own: dict[int, list[NotificationPreference]] = {}
    by_org: dict[int, list[NotificationPreference]] = {}
    rows = NotificationPreference.objects.filter(
        Q(user_id__in=user_ids) | Q(organization_id__in=org_ids), kind__in=(kind, "")
    )
    for row in rows:
        if row.user_id is not None:
            own.setdefault(row.user_id, []).append(row)
        elif row.organization_id is not None:
            by_org.setdefault(row.organization_id, []).append(row)

    def resolve(channel: str, user_id: int | None, organization_id: int | None) -> Choice:
        if user_id is not None:
            orgs = memberships.get(user_id, [])
        else:
            orgs = [organization_id] if organization_id is not None else []
        theirs = sorted((r for org in orgs for r in by_org.get(org, [])), key=lambda r: r.enabled)
        return _resolved(own.get(user_id, []) if user_id is not None else [], theirs, kind, channel)

    return resolve


@transaction.atomic
def preference_set(
    *,
    channel: str,
    enabled: bool,
    kind: str = "",
    digest: bool = False,
    user_id: int | None = None,
    organization_id: int | None = None,
) -> NotificationPreference:
    """Create or change one preference of a user or an organization."""
    if (user_id is None) == (organization_id is None):
        raise DomainError("A preference belongs to exactly one user or one organization.", code="preference_owner")
    if channel not in ALL_CHANNELS:
        raise DomainError(f"Unknown channel {channel!r}.", code="notification_channel_unknown")
    if kind and kind not in KINDS:
        raise DomainError(f"Unknown notification kind {kind!r}.", code="notification_kind_unknown")
    if digest and channel != EMAIL:
        raise DomainError("Only e-mail can be collected into a digest.", code="preference_digest_channel")
    essential = kind_essential(kind, channel)
    if essential and (not enabled or digest):
        raise DomainError(
            f"The message “{KINDS[kind].description.rstrip('.')}” cannot be turned off or delayed: "
            f"it is about {essential}.",
            code="notification_kind_essential",
            errors=[{"field": "kind", "code": "notification_kind_essential", "message": f"It is about {essential}."}],
        )
    owner = {"user_id": user_id} if user_id is not None else {"organization_id": organization_id}
    row, _ = NotificationPreference.objects.update_or_create(
        **owner,
        kind=kind,
        channel=channel,
        defaults={"enabled": enabled, "digest": digest},
    )
    return row


def preference_unsubscribe(*, token: str) -> Unsubscribe:
    """One-click unsubscribe: turn off the kind and channel a signed link names, without a login
    (the token is the credential). Idempotent; a forged or expired token is a DomainError."""
    wanted = unsubscribe_token_read(token)
    if not User.objects.filter(pk=wanted.user_id, is_active=True).exists():
        raise DomainError("This unsubscribe link is not valid.", code="unsubscribe_link_invalid")
    preference_set(user_id=wanted.user_id, kind=wanted.kind, channel=wanted.channel, enabled=False)
    return wanted
