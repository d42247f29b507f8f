"""Where to reach a user beyond their login e-mail."""

from __future__ import annotations

from django.db import transaction

from escrow_project.common.errors import DomainError
from notifications.channels.sms import E164
from notifications.models import ContactPoint


@transaction.atomic
def contact_point_set(*, user_id: int, phone: str) -> ContactPoint:
    """Set (or clear, with "") the phone number SMS goes to."""
    phone = phone.strip()
    if phone and not E164.match(phone):
        raise DomainError(
            "The phone number must be in E.164 form (+ and 8 to 15 digits).",
            code="phone_invalid",
            errors=[{"field": "phone", "code": "phone_invalid", "message": "Use E.164, e.g. +14155550100."}],
        )
    contact, _ = ContactPoint.objects.update_or_create(user_id=user_id, defaults={"phone": phone})
    return contact
