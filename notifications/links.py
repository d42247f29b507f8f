"""Absolute links in messages, on the platform as it is served (settings.PUBLIC_BASE_URL).

Every message a person reads outside the platform (e-mail, SMS, a partner's webhook) needs links
that work from there; a path alone means nothing in a mail client. Callers put paths (or nothing)
in a notification's context; rendering makes them absolute here at send time, so a row queued before
the platform moved to another port or host still links to where it is now. Upper apps say where a
subject's page is (`register_subject_link`), as they say who may watch it (notifications.access).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.urls import reverse

SubjectLink = Callable[[str], str]

_SUBJECT_LINKS: dict[str, SubjectLink] = {}


def register_subject_link(subject_type: str, link: SubjectLink) -> None:
    """Declare the page of a subject (`link(subject_id)` returns its path, or "" for none)."""
    _SUBJECT_LINKS[subject_type] = link


def absolute_url(path_or_url: str) -> str:
    """`path_or_url` as an absolute link; one already absolute (another site) is kept as it is."""
    if not path_or_url:
        return ""
    if path_or_url.startswith(("http://", "https://")):
        return path_or_url
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/{path_or_url.lstrip('/')}"


def is_link_key(key: str) -> bool:
    return key == "url" or key.endswith("_url")


def absolute_links(context: dict[str, Any]) -> dict[str, Any]:
    """The context with every link (`url`, `*_url`) absolute: for the templates and webhook payloads."""
    return {key: absolute_url(value) if is_link_key(key) and isinstance(value, str) else value
            for key, value in context.items()}  # fmt: skip


def subject_url(subject_type: str, subject_id: str) -> str:
    """The absolute link to a subject's page, or "" when its app declared none."""
    link = _SUBJECT_LINKS.get(subject_type)
    return absolute_url(link(subject_id)) if link is not None and subject_id else ""


def preferences_url() -> str:
    return absolute_url(reverse("notification-preferences-page"))


def unsubscribe_url(token: str) -> str:
    return absolute_url(reverse("notification-unsubscribe", kwargs={"token": token}))
