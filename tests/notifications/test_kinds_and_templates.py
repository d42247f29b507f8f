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


# What callers store (JSON: amounts as decimal strings, moments as ISO 8601) and what a person reads.
MONEY_VARIABLES = {"amount", "amount_required", "available", "needed_now", "recommended_topup", "balance", "threshold"}
COUNT_VARIABLES = {"accepted", "rejected", "duplicate", "break_count", "days_left"}
STORED_MONEY, SHOWN_MONEY = "350000.0000", "$350,000.00"
STORED_MOMENT, SHOWN_DAY = "2026-11-20T17:00:00+00:00", "Nov 20, 2026"


def _sample(name: str) -> object:
    if name in MONEY_VARIABLES:
        return STORED_MONEY
    if name == "currency":
        return "USD"
    if name == "due_date":
        return STORED_MOMENT
    if name in COUNT_VARIABLES:
        return 3
    return f"<{name}-value>"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_renders_all_three_templates_with_every_required_value_formatted(kind):
    context = {name: _sample(name) for name in KINDS[kind].required}
    rendered = render_message(kind, context)
    assert rendered.subject
    assert "\n" not in rendered.subject
    shown = rendered.subject + rendered.text
    for name in KINDS[kind].required - MONEY_VARIABLES - COUNT_VARIABLES - {"currency", "due_date"}:
        # Each required variable is used somewhere, raw in text and escaped in HTML.
        assert f"<{name}-value>" in shown
        assert f"&lt;{name}-value&gt;" in rendered.html or f"<{name}-value>" not in rendered.text
    if KINDS[kind].required & MONEY_VARIABLES:
        assert SHOWN_MONEY in rendered.text
        assert SHOWN_MONEY in rendered.html
        assert STORED_MONEY not in shown + rendered.html
    if "due_date" in KINDS[kind].required:
        assert SHOWN_DAY in rendered.text
        assert SHOWN_DAY in rendered.html
        assert "2026-11-20" not in shown + rendered.html


def test_a_day_without_a_time_reads_as_a_day():
    context = {"reference": "ESC-3", "verification_type": "appraisal", "due_date": "2026-12-24"}
    assert "It is due on Dec 24, 2026." in render_message("verification_assigned", context).text


def test_an_amount_that_is_not_a_number_is_refused_not_sent_garbled():
    with pytest.raises(DomainError) as caught:
        render_message("payment_released", {"reference": "ESC-1", "amount": "lots", "currency": "USD"})
    assert caught.value.code == "notification_context_invalid"


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
