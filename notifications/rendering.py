"""Rendering a kind's templates, refusing to send a message with a hole in it."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import InvalidOperation
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.template import Context, Engine, TemplateDoesNotExist
from django.utils.dateparse import parse_datetime

from escrow_project.common.errors import DomainError
from notifications.kinds import EMAIL, kind_get
from notifications.links import absolute_links, preferences_url, subject_url, unsubscribe_url
from notifications.unsubscribe import unsubscribe_token

if TYPE_CHECKING:
    from notifications.models import Notification

_MISSING = "\x00missing:%s\x00"
_MISSING_RE = re.compile("\x00missing:(.*?)\x00")


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


# Context(autoescape=...) decides escaping at render time; the text engine renders with it off.
def _engine(*, autoescape: bool) -> Engine:
    return Engine(
        dirs=[str(d) for d in cast(list[Any], settings.TEMPLATES[0]["DIRS"])],
        app_dirs=True,
        autoescape=autoescape,
        string_if_invalid=_MISSING,
        # A standalone engine knows no app's tag libraries unless named: money and dates read the
        # same in a message as on a page (escrow_project.common.display).
        libraries={"display": "escrow_project.common.templatetags.display"},
    )


_TEXT_ENGINE: Engine | None = None
_HTML_ENGINE: Engine | None = None


def _engines() -> tuple[Engine, Engine]:
    global _TEXT_ENGINE, _HTML_ENGINE
    if _TEXT_ENGINE is None or _HTML_ENGINE is None:
        _TEXT_ENGINE, _HTML_ENGINE = _engine(autoescape=False), _engine(autoescape=True)
    return _TEXT_ENGINE, _HTML_ENGINE


def normalise_context(context: dict[str, Any]) -> dict[str, Any]:
    """The context as stored: JSON only (Decimals and dates become strings), so a retry renders the same."""
    if not isinstance(context, dict):
        raise DomainError("The notification context must be a mapping.", code="notification_context_invalid")
    try:
        normalised = json.loads(json.dumps(context, cls=DjangoJSONEncoder))
    except (TypeError, ValueError) as exc:
        raise DomainError(
            f"The notification context cannot be stored as JSON: {exc}.", code="notification_context_invalid"
        ) from exc
    return dict(normalised)


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _readable(value: Any) -> Any:
    """A stored value as the templates' filters take it: the stored context is JSON, where days and
    moments became ISO 8601 strings (normalise_context); `|day` and `|when` need them back."""
    if isinstance(value, str):
        if _DAY.match(value):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return value
        if _MOMENT.match(value):
            moment = parse_datetime(value)
            if moment is not None:
                return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return value


def message_context(context: dict[str, Any], *, subject_type: str = "", subject_id: str = "") -> dict[str, Any]:
    """The context with its links absolute and, when the caller gave none, the subject's page as
    `url`: what e-mails, SMS, live messages and webhook payloads carry (notifications.links)."""
    linked = absolute_links(context)
    if not linked.get("url") and subject_type:
        page = subject_url(subject_type, subject_id)
        if page:
            linked["url"] = page
    return linked


def notification_link(notification: Notification) -> str:
    """The absolute link a message of this row carries ("" when it has none)."""
    linked = message_context(
        notification.context, subject_type=notification.subject_type, subject_id=notification.subject_id
    )
    url = linked.get("url")
    return url if isinstance(url, str) else ""


_SHARED: ContextVar[dict[str, RenderedMessage] | None] = ContextVar("notifications_rendered", default=None)


@contextmanager
def renders_shared() -> Iterator[None]:
    """Inside, rows with the same message (kind, context, subject, unsubscribe link, footer) are
    rendered once: a batch of one fan-out's live pushes is the same text for every person."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def render_notification(notification: Notification) -> RenderedMessage:
    """One outbox row's message; e-mail to a user gets its footer links (preferences, one-click
    unsubscribe for a kind that may be turned off)."""
    token = ""
    if notification.channel == EMAIL and notification.recipient_user_id is not None:
        token = unsubscribe_token(user_id=notification.recipient_user_id, kind=notification.kind)
    footer = notification.channel == EMAIL
    shared = _SHARED.get()
    key = ""
    if shared is not None:
        key = json.dumps(
            [notification.kind, notification.context, notification.subject_type, notification.subject_id, token,
             footer],
            sort_keys=True,
            cls=DjangoJSONEncoder,
        )  # fmt: skip
        if key in shared:
            return shared[key]
    rendered = render_message(
        notification.kind,
        notification.context,
        subject_type=notification.subject_type,
        subject_id=notification.subject_id,
        unsubscribe=token,
        footer=footer,
    )
    if shared is not None:
        shared[key] = rendered
    return rendered


def render_message(
    kind: str,
    context: Any,
    *,
    template_name: str | None = None,
    subject_type: str = "",
    subject_id: str = "",
    unsubscribe: str = "",
    footer: bool = False,
) -> RenderedMessage:
    """Subject, text and HTML of one message; a missing variable is a DomainError, never a blank.
    `unsubscribe` is the recipient's one-click token; `footer` adds the e-mail footer to the text."""
    spec = kind_get(kind)
    if not isinstance(context, dict):
        raise DomainError("The notification context must be a mapping.", code="notification_context_invalid")
    missing = sorted(spec.required - context.keys())
    if missing:
        raise DomainError(
            f"The notification {kind!r} needs the context variable(s): {', '.join(missing)}.",
            code="notification_context_missing",
            errors=[{"field": f"context.{name}", "code": "required", "message": "Required."} for name in missing],
        )
    folder = f"notifications/{template_name or kind}"
    values = {
        name: _readable(value)
        for name, value in message_context(context, subject_type=subject_type, subject_id=subject_id).items()
    }
    values.update(_footer_values(essential=spec.essential, unsubscribe=unsubscribe))
    text_engine, html_engine = _engines()
    try:
        subject = text_engine.get_template(f"{folder}/subject.txt").render(Context(values, autoescape=False))
        text: str = text_engine.get_template(f"{folder}/body.txt").render(Context(values, autoescape=False))
        html = html_engine.get_template(f"{folder}/body.html").render(Context(values))
        if footer:
            text = text.strip() + "\n\n" + _footer_text(values)
    except TemplateDoesNotExist as exc:
        raise DomainError(
            f"The notification {kind!r} has no template {exc}.", code="notification_template_missing"
        ) from exc
    except (InvalidOperation, ValueError, TypeError, AttributeError) as exc:
        # An amount that is not a number, a date that is not a date: refused when enqueued, not sent garbled.
        raise DomainError(
            f"The notification {kind!r} has a context value that cannot be shown: {exc.__class__.__name__}.",
            code="notification_context_invalid",
        ) from exc
    holes = sorted({m.group(1) for part in (subject, text, html) for m in _MISSING_RE.finditer(part)})
    if holes:
        raise DomainError(
            f"The notification {kind!r} template uses undefined variable(s): {', '.join(holes)}.",
            code="notification_context_missing",
            errors=[{"field": f"context.{name}", "code": "required", "message": "Required."} for name in holes],
        )
    return RenderedMessage(subject=" ".join(subject.split()), text=text.strip() + "\n", html=html)


def _footer_values(*, essential: str, unsubscribe: str) -> dict[str, str]:
    return {
        "preferences_url": preferences_url(),
        "unsubscribe_url": unsubscribe_url(unsubscribe) if unsubscribe else "",
        "essential_reason": essential,
    }


def _footer_text(values: dict[str, Any]) -> str:
    text_engine, _ = _engines()
    return text_engine.get_template("notifications/footer.txt").render(Context(values, autoescape=False)).strip() + "\n"


def render_digest(items: list[dict[str, str]]) -> RenderedMessage:
    """One message listing several rendered notifications."""
    text_engine, html_engine = _engines()
    context = {"items": items, **_footer_values(essential="", unsubscribe="")}
    subject = text_engine.get_template("notifications/digest/subject.txt").render(Context(context, autoescape=False))
    text = text_engine.get_template("notifications/digest/body.txt").render(Context(context, autoescape=False))
    html = html_engine.get_template("notifications/digest/body.html").render(Context(context))
    return RenderedMessage(subject=" ".join(subject.split()), text=text.strip() + "\n\n" + _footer_text(context),
                           html=html)  # fmt: skip
