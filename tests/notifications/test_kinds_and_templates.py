"""Every kind has its three templates, renders with its required context, and refuses a hole."""

from __future__ import annotations

import pytest

from escrow_project.common.errors import DomainError
from notifications.kinds import KINDS
from notifications.rendering import render_message

SEED_KINDS = {
    "transaction_initiated",
    "verification_assigned",
    "verification_completed",
    "verification_failed",
    "verification_overdue",
    "payment_released",
    "payment_failed",
    "settlement_completed",
    "dispute_raised",
    "dispute_resolved",
    "endorsement_received",
    "endorsement_on_hold_funds",
    "endorsement_confirmed",
    "endorsement_rejected",
    "ea_low_balance",
    "reconciliation_breaks_found",
}


def test_every_kind_named_by_the_issue_is_registered():
    assert set(KINDS) >= SEED_KINDS


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_renders_all_three_templates_with_every_required_value(kind):
    context = {name: f"<{name}-value>" for name in KINDS[kind].required}
    rendered = render_message(kind, context)
    assert rendered.subject
    assert "\n" not in rendered.subject
    for name in KINDS[kind].required:
        # Each required variable is used somewhere, raw in text and escaped in HTML.
        assert f"<{name}-value>" in rendered.subject + rendered.text
        assert f"&lt;{name}-value&gt;" in rendered.html or f"<{name}-value>" not in rendered.text


def test_missing_required_variable_names_it():
    with pytest.raises(DomainError) as caught:
        render_message("payment_released", {"reference": "ESC-1", "amount": "10.00"})
    assert caught.value.code == "notification_context_missing"
    assert [e["field"] for e in caught.value.errors] == ["context.currency"]


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(DomainError) as caught:
        render_message("payment_teleported", {})
    assert caught.value.code == "notification_kind_unknown"


def test_optional_variable_appears_only_when_given():
    base = {"reference": "ESC-7", "amount": "1.00", "currency": "USD"}
    assert "to Ada" not in render_message("payment_released", base).text
    assert "to Ada" in render_message("payment_released", {**base, "payee_name": "Ada"}).text
