"""Every audit kind is registered in one place (audit/kinds.py) and documented from it."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from audit.kinds import AuditKind, audit_kind_is_registered, audit_kinds_register
from audit.models import AuditEvent
from audit.services import event_record


def test_docs_audit_events_md_is_generated_from_the_registry():
    call_command("audit_kinds", "--check")


@pytest.mark.django_db
def test_an_unregistered_kind_is_refused_and_nothing_is_appended():
    with pytest.raises(LookupError, match=r"'escrow\.teleported' is not registered"):
        event_record(
            kind="escrow.teleported", subject_type="test_case", subject_id="c1", actor="system:test", payload={}
        )
    assert not AuditEvent.objects.exists()


def test_the_operator_console_actions_are_registered_as_console_kinds():
    # The console writes `console.<action name>`; these are three of its buttons in different apps.
    for kind in ("console.refund", "console.pause_all", "console.reassign_same_agent", "console.retry"):
        assert audit_kind_is_registered(kind), kind


def test_a_kind_without_a_family_cannot_be_registered():
    with pytest.raises(ValueError, match=r"not <family>\.<event>"):
        audit_kinds_register("tests", [AuditKind("teleported", "no family")])
    assert not audit_kind_is_registered("teleported")
