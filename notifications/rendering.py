"""Rendering a kind's templates, refusing to send a message with a hole in it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.template import Context, Engine, TemplateDoesNotExist

from escrow_project.common.errors import DomainError
from notifications.kinds import kind_get

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
        libraries={},
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


def render_message(kind: str, context: Any, *, template_name: str | None = None) -> RenderedMessage:
    """Subject, text and HTML of one message; a missing variable is a DomainError, never a blank."""
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
    text_engine, html_engine = _engines()
    try:
        subject = text_engine.get_template(f"{folder}/subject.txt").render(Context(context, autoescape=False))
        text = text_engine.get_template(f"{folder}/body.txt").render(Context(context, autoescape=False))
        html = html_engine.get_template(f"{folder}/body.html").render(Context(context))
    except TemplateDoesNotExist as exc:
        raise DomainError(
            f"The notification {kind!r} has no template {exc}.", code="notification_template_missing"
        ) from exc
    holes = sorted({m.group(1) for part in (subject, text, html) for m in _MISSING_RE.finditer(part)})
    if holes:
        raise DomainError(
            f"The notification {kind!r} template uses undefined variable(s): {', '.join(holes)}.",
            code="notification_context_missing",
            errors=[{"field": f"context.{name}", "code": "required", "message": "Required."} for name in holes],
        )
    return RenderedMessage(subject=" ".join(subject.split()), text=text.strip() + "\n", html=html)


def render_digest(items: list[dict[str, str]]) -> RenderedMessage:
    """One message listing several rendered notifications."""
    text_engine, html_engine = _engines()
    context = {"items": items}
    subject = text_engine.get_template("notifications/digest/subject.txt").render(Context(context, autoescape=False))
    text = text_engine.get_template("notifications/digest/body.txt").render(Context(context, autoescape=False))
    html = html_engine.get_template("notifications/digest/body.html").render(Context(context))
    return RenderedMessage(subject=" ".join(subject.split()), text=text, html=html)
