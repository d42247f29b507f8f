"""The ALTA-style settlement statement: pure computation, no database, no ledger.

Buyer column: debits are what the buyer owes (price, buyer's closing costs, verification fees paid
before closing); credits are what counts towards it (earnest money, loan, the seller's tax
proration); the difference is the cash the buyer brings. Seller column: credit the price; debit
commissions, the seller's closing costs and the tax proration; the difference is the seller's
proceeds. Every amount goes through one quantize rule, and the statement checks that money in
equals money out to the cent (it balances to zero) before anyone may execute it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from escrow_project.common.errors import UnprocessableError
from escrow_project.common.money import quantize


@dataclass(frozen=True)
class CostInput:
    description: str
    paid_by: str  # "buyer" | "seller"
    payee_id: int
    amount: Decimal


@dataclass(frozen=True)
class StatementInput:
    currency: str
    purchase_price: Decimal
    earnest_money: Decimal
    loan_amount: Decimal
    closing_date: date
    buyer_id: int
    seller_id: int
    buyer_agent_id: int | None
    seller_agent_id: int | None
    buyer_agent_commission_pct: Decimal
    seller_agent_commission_pct: Decimal
    annual_property_tax: Decimal
    milestones_paid: list[tuple[str, Decimal]]  # (label, amount) released before closing
    closing_costs: list[CostInput]
    closing_funds_received: Decimal = Decimal(0)


@dataclass(frozen=True)
class Line:
    label: str
    amount: str


@dataclass(frozen=True)
class Disbursement:
    payee_id: int
    label: str
    amount: Decimal


@dataclass
class Statement:
    currency: str
    buyer_debits: list[Line] = field(default_factory=list)
    buyer_credits: list[Line] = field(default_factory=list)
    seller_debits: list[Line] = field(default_factory=list)
    seller_credits: list[Line] = field(default_factory=list)
    cash_from_buyer: Decimal = Decimal(0)
    cash_to_seller: Decimal = Decimal(0)
    funds_in: Decimal = Decimal(0)
    paid_before_closing: Decimal = Decimal(0)
    disbursements: list[Disbursement] = field(default_factory=list)
    difference: Decimal = Decimal(0)

    @property
    def total_disbursed(self) -> Decimal:
        return sum((d.amount for d in self.disbursements), Decimal(0))

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        return _stringify(data) | {"total_disbursed": str(self.total_disbursed)}


def _stringify(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    return value


def tax_proration(*, annual_tax: Decimal, closing_date: date, currency: str) -> Decimal:
    """The seller's share of this year's property tax, paid in arrears: 1 January to the day before closing."""
    year_start = date(closing_date.year, 1, 1)
    days_in_year = (date(closing_date.year + 1, 1, 1) - year_start).days
    days_owned = (closing_date - year_start).days
    return quantize(annual_tax * Decimal(days_owned) / Decimal(days_in_year), currency)


def statement_compute(data: StatementInput) -> Statement:
    """Compute the statement; raise UnprocessableError when the deal cannot close as agreed."""
    cur = data.currency
    q = lambda amount: quantize(amount, cur)  # noqa: E731 - the one rounding rule, short to read
    s = Statement(currency=cur)
    price = q(data.purchase_price)
    buyer_commission = q(price * data.buyer_agent_commission_pct / 100)
    seller_commission = q(price * data.seller_agent_commission_pct / 100)
    proration = tax_proration(annual_tax=data.annual_property_tax, closing_date=data.closing_date, currency=cur)
    milestones = [(label, q(amount)) for label, amount in data.milestones_paid if amount > 0]
    buyer_costs = [c for c in data.closing_costs if c.paid_by == "buyer"]
    seller_costs = [c for c in data.closing_costs if c.paid_by == "seller"]

    s.buyer_debits.append(Line("Contract sales price", str(price)))
    for cost in buyer_costs:
        s.buyer_debits.append(Line(cost.description, str(q(cost.amount))))
    for label, amount in milestones:
        s.buyer_debits.append(Line(f"{label} (paid before closing)", str(amount)))
    s.buyer_credits.append(Line("Earnest money deposit", str(q(data.earnest_money))))
    if data.loan_amount > 0:
        s.buyer_credits.append(Line("Loan amount", str(q(data.loan_amount))))
    if proration > 0:
        s.buyer_credits.append(
            Line(f"County taxes 01/01 to {data.closing_date:%m/%d} (seller's share)", str(proration))
        )
    buyer_debit_total = price + sum((q(c.amount) for c in buyer_costs), Decimal(0)) + sum(a for _, a in milestones)
    buyer_credit_total = q(data.earnest_money) + q(data.loan_amount) + proration
    s.cash_from_buyer = buyer_debit_total - buyer_credit_total

    s.seller_credits.append(Line("Contract sales price", str(price)))
    if buyer_commission > 0:
        s.seller_debits.append(
            Line(f"Commission to buyer's agent ({data.buyer_agent_commission_pct}%)", str(buyer_commission))
        )
    if seller_commission > 0:
        s.seller_debits.append(
            Line(f"Commission to seller's agent ({data.seller_agent_commission_pct}%)", str(seller_commission))
        )
    for cost in seller_costs:
        s.seller_debits.append(Line(cost.description, str(q(cost.amount))))
    if proration > 0:
        s.seller_debits.append(Line(f"County taxes 01/01 to {data.closing_date:%m/%d}", str(proration)))
    seller_debit_total = buyer_commission + seller_commission + sum((q(c.amount) for c in seller_costs), Decimal(0))
    s.cash_to_seller = price - seller_debit_total - proration
    if s.cash_to_seller < 0:
        raise UnprocessableError(
            "The seller's charges exceed the price; the seller would have to bring money to closing.",
            code="seller_short",
        )

    # Where the money goes from the escrow wallet at closing.
    def pay(payee_id: int | None, label: str, amount: Decimal) -> None:
        if amount > 0:
            if payee_id is None:
                raise UnprocessableError(f"Nobody is named to receive {label}.", code="payee_missing")
            s.disbursements.append(Disbursement(payee_id, label, amount))

    pay(data.seller_id, "Proceeds to seller", s.cash_to_seller)
    pay(data.buyer_agent_id, "Commission to buyer's agent", buyer_commission)
    pay(data.seller_agent_id, "Commission to seller's agent", seller_commission)
    for cost in data.closing_costs:
        pay(cost.payee_id, cost.description, q(cost.amount))
    cash_needed = max(s.cash_from_buyer, Decimal(0))
    excess = q(data.closing_funds_received) - cash_needed
    if s.cash_from_buyer < 0:
        excess += -s.cash_from_buyer  # the deposits already exceed what the buyer owes
    pay(data.buyer_id, "Refund of excess deposit to buyer", excess)

    s.funds_in = q(data.earnest_money) + q(data.loan_amount) + q(data.closing_funds_received)
    s.paid_before_closing = sum((a for _, a in milestones), Decimal(0))
    s.difference = s.funds_in - s.paid_before_closing - s.total_disbursed
    return s


def statement_check_executable(statement: Statement) -> None:
    """Refuse a statement that does not balance or is not funded."""
    if statement.difference < 0:
        raise UnprocessableError(
            f"The buyer's cash to close is short by {-statement.difference} {statement.currency}.",
            code="closing_funds_short",
        )
    if statement.difference != 0:
        raise UnprocessableError(
            f"The settlement statement does not balance (difference {statement.difference}).", code="unbalanced"
        )
