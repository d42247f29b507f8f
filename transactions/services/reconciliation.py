"""Escrow's three-way reconciliation for a day: the rail's statement, the books, the open files.

Per currency, at the end of the day (UTC):

1. rail vs books, per rail that keeps a statement (Stripe): the day's net of the rail's balance
   transactions against the day's movement of that rail's clearing account;
2. books vs trial balance: what the books say the rails hold for customers (every rail's clearing
   account less payouts in flight) against the sum of the accounts that money belongs to: the
   wallets of open escrows plus every other customer account at the same rails (payees' accounts,
   employers' endorsement accounts, insurers' premiums). Money left in a closed escrow's wallet,
   or a correction that moved books but no money, is the difference.

Each pair is one line of an ESCROW_THREE_WAY run in the ledger's reconciliation engine, with no
tolerance: any difference is a break worked like any other. The same figures for the same day
again return the first run; changed figures (a late posting) make a new run.
"""

from __future__ import annotations

import datetime
import hashlib
from decimal import Decimal

from ledger import selectors as ledger_selectors
from ledger import services as ledger
from ledger.models import Account, Business, ReconciliationRun, RunKind
from ledger.reconciliation import Line
from ledger.services.rail_statement import rail_has_statement, rail_statement_lines
from transactions.models import EscrowTransaction
from transactions.states import EscrowStatus

CLOSED = (EscrowStatus.SETTLED, EscrowStatus.CANCELLED, EscrowStatus.DISPUTE_RESOLVED)


def _bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)
    return start, start + datetime.timedelta(days=1)


def _rail_leg(rail: str, currency: str, day: datetime.date) -> tuple[Line, Line]:
    start, end = _bounds(day)
    clearing = ledger.rail_clearing_account(rail=rail, currency=currency)
    moved = ledger_selectors.accounts_posted_sum_as_of(account_ids=[clearing.pk], at=end)
    moved -= ledger_selectors.accounts_posted_sum_as_of(account_ids=[clearing.pk], at=start)
    at_rail = sum(
        (line.amount for line in rail_statement_lines(rail=rail, day=day) if line.currency == currency),
        start=Decimal(0),
    )
    key = ("rail vs books", rail, currency)
    return (
        Line(moved, currency, key, day, source=f"ledger: {rail} clearing, the day's movement"),
        Line(at_rail, currency, key, day, source=f"{rail}: the day's balance transactions, net"),
    )


def _trial_balance_leg(currency: str, day: datetime.date) -> tuple[Line, Line]:
    _start, end = _bounds(day)
    books, system_ids = ledger_selectors.books_at_rails_as_of(currency=currency, at=end)
    wallets = EscrowTransaction.objects.filter(wallet_account_id__isnull=False, currency=currency)
    closed_wallets = {
        int(pk) for pk in wallets.filter(status__in=CLOSED).values_list("wallet_account_id", flat=True) if pk
    }
    customers = [
        pk
        for pk in Account.objects.filter(currency=currency).exclude(owner_type="system").values_list("pk", flat=True)
        if pk not in closed_wallets
    ]
    open_wallets = {
        int(pk) for pk in wallets.exclude(status__in=CLOSED).values_list("wallet_account_id", flat=True) if pk
    }
    in_wallets = ledger_selectors.accounts_posted_sum_as_of(account_ids=sorted(open_wallets), at=end)
    others = ledger_selectors.accounts_posted_sum_as_of(
        account_ids=[pk for pk in customers if pk not in open_wallets], at=end
    )
    key = ("books vs trial balance", currency)
    trial = f"open escrow wallets {in_wallets} + other customer accounts {others}"
    booked = f"ledger: rail clearing less payouts in flight ({len(system_ids)} accounts)"
    return Line(in_wallets + others, currency, key, day, source=trial), Line(books, currency, key, day, source=booked)


def escrow_three_way(*, day: datetime.date, actor: str = "system") -> ReconciliationRun:
    """Reconcile the day three ways (rail, books, open escrow wallets); returns the recorded run."""
    ours: list[Line] = []
    theirs: list[Line] = []
    currencies = sorted(
        set(Account.objects.filter(owner_type="system", purpose="rail_clearing").values_list("currency", flat=True))
    )
    rails = sorted(
        {
            owner.removeprefix("rail:")
            for owner in Account.objects.filter(owner_type="system", purpose="rail_clearing").values_list(
                "owner_id", flat=True
            )
        }
    )
    for currency in currencies:
        for rail in rails:
            if rail_has_statement(rail):
                mine, at_rail = _rail_leg(rail, currency, day)
                ours.append(mine)
                theirs.append(at_rail)
        mine, books = _trial_balance_leg(currency, day)
        ours.append(mine)
        theirs.append(books)
    digest = hashlib.sha256("|".join(f"{o.key}:{o.amount}:{t.amount}" for o, t in zip(ours, theirs, strict=True))
                            .encode()).hexdigest()[:32]  # fmt: skip
    run, _created = ledger.reconciliation_run_record(
        kind=RunKind.ESCROW_THREE_WAY,
        business=Business.ESCROW,
        counterparty="rails",
        counterparty_name="payment rails",
        statement_key=f"{day.isoformat()}:{digest}",
        statement_name=f"three-way {day.isoformat()}",
        period_start=day,
        period_end=day,
        ours=ours,
        theirs=theirs,
        actor=actor,
    )
    return run
