"""The only place the endorsements app talks to the ledger: accounts, holds, postings, top-ups."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from endorsements.models import EndorsementAccount, InsurerAccount
from identity.models import Organization

OWNER_TYPE = "organization"
EA_PURPOSE = "endorsement_account"
INSURER_PURPOSE = "insurer_premiums"


def ea_get_or_open(*, employer: Organization, currency: str) -> EndorsementAccount:
    """The employer's EA for a currency, opening the ledger account the first time (no overdraft)."""
    from ledger import services as ledger

    ea, _ = EndorsementAccount.objects.get_or_create(employer=employer, currency=currency)
    if not ea.ledger_account_id:
        ea = EndorsementAccount.objects.select_for_update().get(pk=ea.pk)
        if not ea.ledger_account_id:
            account = ledger.account_open(
                owner_type=OWNER_TYPE,
                owner_id=str(employer.pk),
                purpose=EA_PURPOSE,
                currency=currency,
                normal_side="credit",
                no_overdraft=True,
                name=f"Endorsement Account {employer.slug} {currency}",
            )
            ea.ledger_account_id = str(account.pk)
            ea.save(update_fields=["ledger_account_id"])
    return ea


def insurer_account(*, insurer_id: int, currency: str) -> InsurerAccount:
    from ledger import services as ledger

    found = InsurerAccount.objects.filter(insurer_id=insurer_id, currency=currency).first()
    if found is not None:
        return found
    insurer = Organization.objects.get(pk=insurer_id)
    account = ledger.account_open(
        owner_type=OWNER_TYPE,
        owner_id=str(insurer_id),
        purpose=INSURER_PURPOSE,
        currency=currency,
        normal_side="credit",
        no_overdraft=False,
        name=f"Premiums {insurer.slug} {currency}",
    )
    return InsurerAccount.objects.create(insurer=insurer, currency=currency, ledger_account_id=str(account.pk))


def available(ea: EndorsementAccount) -> Decimal:
    from ledger import selectors as ledger_selectors

    return Decimal(ledger_selectors.account_balance(account_id=int(ea.ledger_account_id)).available)


def balance_summary(ea: EndorsementAccount) -> dict[str, Decimal]:
    from ledger import selectors as ledger_selectors

    b = ledger_selectors.account_balance(account_id=int(ea.ledger_account_id))
    return {
        "balance": Decimal(b.balance),
        "available": Decimal(b.available),
        "locked": Decimal(b.balance) - Decimal(b.available),
    }


def holds_place(*, ea: EndorsementAccount, requests: list[Any]) -> list[str]:
    """One hold per debit request, all in one ledger batch (all or nothing); returns hold ids in order."""
    from ledger import services as ledger
    from ledger.types import HoldOp

    if not requests:
        return []
    accounts = {i: insurer_account(insurer_id=i, currency=ea.currency) for i in {r.insurer_id for r in requests}}
    operations = [
        HoldOp(
            debit_account_id=int(ea.ledger_account_id),
            credit_account_id=int(accounts[r.insurer_id].ledger_account_id),
            amount=r.amount,
            currency=ea.currency,
            idempotency_key=f"endorsement:{r.tracking_id}:hold",
            # Carried onto the entry that posts the hold: a ledger line leads back to its request.
            metadata={"tracking_id": r.tracking_id},
        )
        for r in requests
    ]
    result = ledger.batch_execute(idempotency_key=f"endorsement-holds:{uuid.uuid4()}", operations=operations)
    return [str(hold.pk) for hold in result.results]


def ledger_batch(operations: list[Any]) -> None:
    """Post, void and refund in one all-or-nothing ledger batch (a callback delivery)."""
    from ledger import services as ledger

    for start in range(0, len(operations), 1000):
        ledger.batch_execute(
            idempotency_key=f"endorsement-batch:{uuid.uuid4()}", operations=operations[start : start + 1000]
        )


def hold_void(*, key: str, hold_id: str, reason: str) -> None:
    from ledger import services as ledger

    ledger.hold_void(hold_id=int(hold_id), idempotency_key=key, reason=reason)


def topup_record(
    *, key: str, ea: EndorsementAccount, amount: Decimal, currency: str, reference: str = "", rail: str = "simulated"
) -> None:
    from ledger import services as ledger

    ledger.deposit_record(
        idempotency_key=key,
        account_id=int(ea.ledger_account_id),
        amount=amount,
        currency=currency,
        rail=rail,
        provider_reference=reference,
    )
