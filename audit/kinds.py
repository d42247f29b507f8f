"""One registry of every audit event kind, so auditors (and their tools) know what a trail can hold.

A kind is `<family>.<event>`, written by the app that owns the family (docs/decisions/seams.md).
Each app registers its kinds in `AppConfig.ready()` with `audit_kinds_register`; the operator
console's `console.<action>` kinds come from the admin site's object actions, read when first needed
(the admin site is filled after the apps are ready). docs/audit-events.md is generated from here
(`manage.py audit_kinds --write`, `--check` in the suite), and in tests an unregistered kind is
refused when appended (`AUDIT_KINDS_STRICT`), as an unregistered error code is (ERROR_CODES_STRICT).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class AuditKind:
    kind: str
    meaning: str


# kind -> (the apps that write it, the first registration). A few kinds have several writers:
# `reconciliation.*` goes on the chain of whichever business app owns the run.
Registry = dict[str, tuple[tuple[str, ...], AuditKind]]

_KINDS: Registry = {}
_SOURCES: list[tuple[str, Callable[[], Iterable[AuditKind]]]] = []
_resolved: Registry | None = None


def _add(owner: str, kind: AuditKind, known: Registry) -> None:
    family, _, event = kind.kind.partition(".")
    if not family or not event:
        raise ValueError(f"audit kind {kind.kind!r} is not <family>.<event>")
    owners, first = known.get(kind.kind, ((), kind))
    known[kind.kind] = (tuple(sorted({*owners, owner})), first)


def audit_kinds_register(owner: str, kinds: Iterable[AuditKind]) -> None:
    """Register the kinds `owner` (an app label) writes; registering a kind again is harmless."""
    global _resolved
    for kind in kinds:
        _add(owner, kind, _KINDS)
    _resolved = None


def audit_kinds_source_register(owner: str, source: Callable[[], Iterable[AuditKind]]) -> None:
    """Register kinds known only once start-up is complete (read on first use)."""
    global _resolved
    _SOURCES.append((owner, source))
    _resolved = None


def audit_kinds() -> Registry:
    """Every registered kind -> (its writers, its registration), sorted by kind."""
    global _resolved
    if _resolved is None:
        known = dict(_KINDS)
        for owner, source in _SOURCES:
            for kind in source():
                _add(owner, kind, known)
        _resolved = dict(sorted(known.items()))
    return _resolved


def audit_kind_is_registered(kind: str) -> bool:
    return kind in audit_kinds()


def audit_kinds_markdown() -> str:
    """docs/audit-events.md: every kind an installed app writes, by family (not the test suite's own)."""
    from django.apps import apps

    lines = [
        "# Audit event kinds",
        "",
        "Generated from the registry in `audit/kinds.py` (`python manage.py audit_kinds --write`); do not edit.",
        "Each app registers its kinds in `AppConfig.ready()`; the `console.*` kinds are the operator",
        "console's object actions. In tests an unregistered kind is refused when appended.",
    ]
    family = None
    for name, (owners, kind) in audit_kinds().items():
        if not any(apps.is_installed(owner) for owner in owners):
            continue
        current = name.partition(".")[0]
        if current != family:
            family = current
            lines += ["", f"## `{family}.*`", "", "| kind | written by | meaning |", "|---|---|---|"]
        meaning = kind.meaning.replace("|", "\\|")
        lines.append(f"| `{name}` | {', '.join(owners)} | {meaning} |")
    return "\n".join(lines) + "\n"
