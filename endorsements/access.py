"""Who may see an employer's endorsements in the audit trail and live pages."""

from __future__ import annotations

from typing import Any

from endorsements.hooks import SUBJECT_TYPE


def can_see_employer_endorsements(user: Any, subject_id: str) -> bool:
    """Operators, auditors and the employer's own HR staff."""
    from endorsements.selectors import employer_ids_for_user
    from identity.selectors import user_has_role, user_is_operator

    if user_is_operator(user) or user_has_role(user, "auditor"):
        return True
    # isascii: str.isdigit() is also true of "²" and other scripts' digits, which int() refuses or reads.
    return subject_id.isascii() and subject_id.isdigit() and int(subject_id) in employer_ids_for_user(user)


def employer_page(subject_id: str) -> str:
    """The HR dashboard of the employer an endorsement message is about (its links in e-mails)."""
    from identity.models import Organization

    if not (subject_id.isascii() and subject_id.isdigit()):
        return ""
    public_id = Organization.objects.filter(pk=int(subject_id)).values_list("public_id", flat=True).first()
    return f"/employer/{public_id}/" if public_id else ""


def register() -> None:
    """Tell the audit trail and live notifications who may follow an employer's endorsements."""
    from escrow_project.common.subject_access import register_subject_access
    from notifications.links import register_subject_link

    register_subject_access(SUBJECT_TYPE, can_see_employer_endorsements)
    register_subject_link(SUBJECT_TYPE, employer_page)
