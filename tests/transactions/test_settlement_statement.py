"""The ALTA-style statement balances to zero to the cent, and refuses deals that cannot close."""

from __future__ import annotations

import dataclasses
import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from escrow_project.common.errors import UnprocessableError
from transactions.settlement import (
    CostInput,
    StatementInput,
    statement_check_executable,
    statement_compute,
    tax_proration,
)


def _input(**overrides) -> StatementInput:
    fields: dict[str, Any] = {
        "currency": "USD",
        "purchase_price": Decimal("400000.00"),
        "earnest_money": Decimal("20000.00"),
        "loan_amount": Decimal("300000.00"),
        "closing_date": datetime.date(2026, 7, 1),
        "buyer_id": 1,
        "seller_id": 2,
        "buyer_agent_id": 3,
        "seller_agent_id": 4,
        "buyer_agent_commission_pct": Decimal("2.5"),
        "seller_agent_commission_pct": Decimal("3"),
        "annual_property_tax": Decimal("3650.00"),
        "milestones_paid": [("Title search fee", Decimal("1200.00")), ("Inspection fee", Decimal("500.00"))],
        "closing_costs": [
            CostInput("Escrow fee", "buyer", 5, Decimal("850.00")),
            CostInput("Owner's title policy", "seller", 5, Decimal("1450.00")),
        ],
        "closing_funds_received": Decimal("0"),
    }
    fields.update(overrides)
    return StatementInput(**fields)


def test_the_worked_example_to_the_cent() -> None:
    s = statement_compute(_input())

    # 181 days of 365 at 3650.00 a year
    assert tax_proration(
        annual_tax=Decimal("3650.00"), closing_date=datetime.date(2026, 7, 1), currency="USD"
    ) == Decimal("1810.00")
    # 400000 + 850 + 1200 + 500 - 20000 - 300000 - 1810
    assert s.cash_from_buyer == Decimal("80740.00")
    # 400000 - 10000 - 12000 - 1450 - 1810
    assert s.cash_to_seller == Decimal("374740.00")
    assert s.difference == Decimal("-80740.00")  # the buyer has not brought the cash yet

    funded = statement_compute(_input(closing_funds_received=Decimal("80740.00")))
    assert funded.difference == 0
    assert {d.label: d.amount for d in funded.disbursements} == {
        "Proceeds to seller": Decimal("374740.00"),
        "Commission to buyer's agent": Decimal("10000.00"),
        "Commission to seller's agent": Decimal("12000.00"),
        "Escrow fee": Decimal("850.00"),
        "Owner's title policy": Decimal("1450.00"),
    }
    statement_check_executable(funded)


def test_a_short_buyer_is_refused_and_an_over_funded_buyer_gets_the_excess_back() -> None:
    with pytest.raises(UnprocessableError) as caught:
        statement_check_executable(statement_compute(_input(closing_funds_received=Decimal("80000.00"))))
    assert caught.value.code == "closing_funds_short"

    over = statement_compute(_input(closing_funds_received=Decimal("81000.00")))
    assert over.difference == 0
    assert [d.amount for d in over.disbursements if d.payee_id == 1] == [Decimal("260.00")]


def test_a_seller_whose_charges_exceed_the_price_is_refused() -> None:
    with pytest.raises(UnprocessableError) as caught:
        statement_compute(_input(closing_costs=[CostInput("Payoff", "seller", 9, Decimal("399000.00"))]))
    assert caught.value.code == "seller_short"


@given(
    price=st.decimals(min_value=Decimal("50000"), max_value=Decimal("5000000"), places=2),
    earnest_share=st.integers(min_value=1, max_value=20),
    loan_share=st.integers(min_value=0, max_value=90),
    buyer_pct=st.decimals(min_value=0, max_value=3, places=3),
    seller_pct=st.decimals(min_value=0, max_value=3, places=3),
    tax=st.decimals(min_value=0, max_value=30000, places=2),
    day=st.integers(min_value=0, max_value=364),
    extra=st.decimals(min_value=0, max_value=5000, places=2),
)
def test_any_funded_statement_balances_to_zero(
    price, earnest_share, loan_share, buyer_pct, seller_pct, tax, day, extra
) -> None:
    earnest = (price * earnest_share / 100).quantize(Decimal("0.01"))
    loan = (price * loan_share / 100).quantize(Decimal("0.01"))
    base = _input(
        purchase_price=price,
        earnest_money=earnest,
        loan_amount=loan,
        buyer_agent_commission_pct=buyer_pct,
        seller_agent_commission_pct=seller_pct,
        annual_property_tax=tax,
        closing_date=datetime.date(2026, 1, 1) + datetime.timedelta(days=day),
    )
    due = max(statement_compute(base).cash_from_buyer, Decimal(0))
    s = statement_compute(dataclasses.replace(base, closing_funds_received=due + extra))
    assert s.difference == 0
    assert s.funds_in == s.paid_before_closing + s.total_disbursed
    assert all(d.amount > 0 for d in s.disbursements)
