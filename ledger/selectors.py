"""Every non-trivial read of the ledger, including the permission-scoped ones.

- `account_balance(account_id=)` -> `ledger.types.Balance`: one row read (the stored counters).
- `account_get(owner_type=, owner_id=, purpose=, currency=)` -> Account (unknown_account if absent).
- `account_history(account_id=)` -> lines newest first, each with `balance_after` (running balance).
- `account_balance_as_of(account_id=, at=)` -> Balance of posted money at a moment (one index probe).
- `invariants_check()` -> `ledger.types.InvariantReport` (read only; `services.invariants_run` records it).
- `account_list_for_user(user=)`, `account_get_for_user(user=, public_id=)`: operators see every
  account; others the accounts owned by one of their organizations (owner_type "organization",
  owner_id the organization's id) plus what upper apps make visible through
  `account_visibility_register(rule)` where `rule(user) -> Q | None` filters Account.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Max, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from escrow_project.common.errors import NotFoundError
from identity.selectors import organization_ids_for_user, user_is_operator
from ledger.errors import UnknownAccountError
from ledger.models import Account, Hold, JournalLine, PayoutIntent, RailPayment, Side
from ledger.states import PAYOUT_OPEN, HoldStatus
from ledger.types import Balance, InvariantReport

ORGANIZATION = "organization"
# Mirrors ledger.services.accounts (selectors must not import services).
SYSTEM_OWNER = "system"
NEVER_NEGATIVE_PURPOSES = ("payouts_in_flight", "rail_clearing")
ZERO = Decimal(0)

VisibilityRule = Callable[[Any], Q | None]
_VISIBILITY_RULES: list[VisibilityRule] = []


def account_visibility_register(rule: VisibilityRule) -> None:
    """Let an upper app (in its AppConfig.ready) make more accounts visible to a user."""
    if rule not in _VISIBILITY_RULES:
        _VISIBILITY_RULES.append(rule)


def _signed(normal_side: str, debits: Decimal, credits: Decimal) -> Decimal:
    return debits - credits if normal_side == Side.DEBIT else credits - debits


def balance_from_counters(
    *,
    account_id: int,
    currency: str,
    normal_side: str,
    posted_debits: Decimal,
    posted_credits: Decimal,
    pending_debits: Decimal,
    pending_credits: Decimal,
) -> Balance:
    balance = _signed(normal_side, posted_debits, posted_credits)
    outflow, inflow = (
        (pending_credits, pending_debits) if normal_side == Side.DEBIT else (pending_debits, pending_credits)
    )
    return Balance(
        account_id=account_id,
        currency=currency,
        normal_side=normal_side,
        posted_debits=posted_debits,
        posted_credits=posted_credits,
        pending_debits=pending_debits,
        pending_credits=pending_credits,
        balance=balance,
        available=balance - outflow,
        projected=balance - outflow + inflow,
    )


_STORAGE = Decimal("0.0001")


def _dec(value: Any) -> Decimal:
    # PostgreSQL returns Decimal; SQLite (the embedded default) may return int or float.
    return value if isinstance(value, Decimal) else Decimal(str(value)).quantize(_STORAGE)


def account_balance(*, account_id: int) -> Balance:
    """The four counters and what follows from them: one primary-key row read (raw SQL: it is the hot read)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT currency, normal_side, posted_debits, posted_credits, pending_debits, pending_credits "
            "FROM ledger_account WHERE id = %s",
            [account_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise UnknownAccountError(f"No account with id {account_id}.")
    currency, normal_side, pd, pc, qd, qc = row
    return balance_from_counters(
        account_id=account_id,
        currency=currency,
        normal_side=normal_side,
        posted_debits=_dec(pd),
        posted_credits=_dec(pc),
        pending_debits=_dec(qd),
        pending_credits=_dec(qc),
    )


def account_get(*, owner_type: str, owner_id: str, purpose: str, currency: str) -> Account:
    account = Account.objects.filter(
        owner_type=owner_type, owner_id=str(owner_id), purpose=purpose, currency=currency
    ).first()
    if account is None:
        raise UnknownAccountError(f"No {purpose} account in {currency} for {owner_type}:{owner_id}.")
    return account


def account_history(*, account_id: int, since: datetime.datetime | None = None) -> QuerySet[JournalLine]:
    """Lines of the account, newest first; `line.balance_after` is the running balance after it."""
    lines = JournalLine.objects.filter(account_id=account_id).select_related("entry").order_by("-id")
    if since is not None:
        lines = lines.filter(created_at__gte=since)
    return lines


def line_balance_after(line: JournalLine, normal_side: str) -> Decimal:
    return _signed(normal_side, line.posted_debits_after, line.posted_credits_after)


def account_balance_as_of(*, account_id: int, at: datetime.datetime) -> Balance:
    """Posted balance at `at` from the last line up to then (pending is not historised: zero). One query."""
    with connection.cursor() as cursor:
        last = (
            "SELECT {} FROM ledger_journalline WHERE account_id = a.id AND created_at <= %s "
            "ORDER BY created_at DESC, id DESC LIMIT 1"
        )
        moment = connection.ops.adapt_datetimefield_value(at)
        cursor.execute(
            f"SELECT a.currency, a.normal_side, ({last.format('posted_debits_after')}), "  # noqa: S608 -- constant SQL
            f"({last.format('posted_credits_after')}) FROM ledger_account a WHERE a.id = %s",
            [moment, moment, account_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise UnknownAccountError(f"No account with id {account_id}.")
    currency, normal_side, debits, credits = row
    return balance_from_counters(
        account_id=account_id,
        currency=currency,
        normal_side=normal_side,
        posted_debits=ZERO if debits is None else _dec(debits),
        posted_credits=ZERO if credits is None else _dec(credits),
        pending_debits=ZERO,
        pending_credits=ZERO,
    )


def account_list_for_user(*, user: Any) -> QuerySet[Account]:
    """Operators see all; others their organizations' accounts and what upper apps made visible."""
    if user_is_operator(user):
        return Account.objects.all().order_by("id")
    visible = Q(owner_type=ORGANIZATION, owner_id__in=[str(i) for i in organization_ids_for_user(user)])
    for rule in _VISIBILITY_RULES:
        extra = rule(user)
        if extra is not None:
            visible |= extra
    return Account.objects.filter(visible).order_by("id")


def account_get_for_user(*, user: Any, public_id: Any) -> Account:
    """404 for what the caller may not see."""
    account = account_list_for_user(user=user).filter(public_id=public_id).first()
    if account is None:
        raise NotFoundError("No such account.")
    return account


def invariants_check() -> InvariantReport:
    """Verify the books: balanced per currency and per entry, counters equal their history (sums and the
    running balance on the newest line), pending counters equal the pending holds, guards hold."""
    # SET TRANSACTION must open the transaction; inside a caller's transaction (a test, a service that
    # already read) the check runs in a savepoint under the caller's isolation instead.
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            # One snapshot for every query below: under READ COMMITTED a posting committed between the
            # journal sums and the account rows would look like a breach (a false CRITICAL alert).
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _invariants_check()


def _invariants_check() -> InvariantReport:
    breaches: list[str] = []
    totals: dict[tuple[str, str], Decimal] = {}
    for row in JournalLine.objects.values("currency", "side").annotate(total=Sum("amount")):
        totals[(row["currency"], row["side"])] = row["total"] or ZERO
    for currency in sorted({c for c, _s in totals}):
        debits, credits = totals.get((currency, Side.DEBIT), ZERO), totals.get((currency, Side.CREDIT), ZERO)
        if debits != credits:
            breaches.append(f"{currency}: total debits {debits} != total credits {credits}")

    unbalanced = (
        JournalLine.objects.values("entry_id", "currency")
        .annotate(
            d=Sum("amount", filter=Q(side=Side.DEBIT), default=ZERO),
            c=Sum("amount", filter=Q(side=Side.CREDIT), default=ZERO),
        )
        .exclude(d=F("c"))[:20]
    )
    for bad in unbalanced:
        breaches.append(f"entry {bad['entry_id']} unbalanced in {bad['currency']}: {bad['d']} != {bad['c']}")

    posted: dict[int, tuple[Decimal, Decimal]] = {}
    lines_checked = 0
    for sums in JournalLine.objects.values("account_id").annotate(
        d=Sum("amount", filter=Q(side=Side.DEBIT), default=ZERO),
        c=Sum("amount", filter=Q(side=Side.CREDIT), default=ZERO),
    ):
        posted[sums["account_id"]] = (sums["d"], sums["c"])
    pending_d: dict[int, Decimal] = {}
    pending_c: dict[int, Decimal] = {}
    for held in Hold.objects.filter(status=HoldStatus.PENDING).values("debit_account_id").annotate(t=Sum("amount")):
        pending_d[held["debit_account_id"]] = held["t"]
    for owed in Hold.objects.filter(status=HoldStatus.PENDING).values("credit_account_id").annotate(t=Sum("amount")):
        pending_c[owed["credit_account_id"]] = owed["t"]

    # The running balance stored on each account's newest line must equal the stored counters.
    newest = JournalLine.objects.values("account_id").annotate(last=Max("id")).values("last")
    last_line = {
        aid: (d, c)
        for aid, d, c in JournalLine.objects.filter(id__in=Subquery(newest)).values_list(
            "account_id", "posted_debits_after", "posted_credits_after"
        )
    }

    open_payouts: dict[str, Decimal] = {
        row["currency"]: row["t"]
        for row in PayoutIntent.objects.filter(status__in=PAYOUT_OPEN).values("currency").annotate(t=Sum("amount"))
    }

    accounts = 0
    for account in Account.objects.values_list(
        "id",
        "posted_debits",
        "posted_credits",
        "pending_debits",
        "pending_credits",
        "debits_must_not_exceed_credits",
        "credits_must_not_exceed_debits",
        "owner_type",
        "purpose",
        "normal_side",
        "currency",
    ).iterator(chunk_size=2000):
        accounts += 1
        aid, pd, pc, qd, qc, dguard, cguard, owner_type, purpose, normal_side, currency = account
        if owner_type == SYSTEM_OWNER and purpose in NEVER_NEGATIVE_PURPOSES:
            # Unguarded system accounts (no overdraft CHECK, so payouts never fail on them) still must
            # never go below zero: money promised or cash at a rail cannot be negative.
            balance = _signed(normal_side, pd, pc)
            if balance < 0:
                breaches.append(f"account {aid}: system {purpose} balance {balance} {currency} is negative")
            if purpose == "payouts_in_flight" and balance != open_payouts.get(currency, ZERO):
                breaches.append(
                    f"account {aid}: payouts in flight {balance} {currency} != open payouts "
                    f"{open_payouts.get(currency, ZERO)}"
                )
        d, c = posted.get(aid, (ZERO, ZERO))
        if (pd, pc) != (d, c):
            breaches.append(f"account {aid}: stored posted {pd}/{pc} != journal {d}/{c}")
        if last_line.get(aid, (ZERO, ZERO)) != (pd, pc):
            breaches.append(f"account {aid}: running balance on its newest line {last_line.get(aid)} != {pd}/{pc}")
        if (qd, qc) != (pending_d.get(aid, ZERO), pending_c.get(aid, ZERO)):
            breaches.append(
                f"account {aid}: stored pending {qd}/{qc} != pending holds "
                f"{pending_d.get(aid, ZERO)}/{pending_c.get(aid, ZERO)}"
            )
        if dguard and pd + qd > pc:
            breaches.append(f"account {aid}: guarded (no overdraft) but debits {pd}+{qd} exceed credits {pc}")
        if cguard and pc + qc > pd:
            breaches.append(f"account {aid}: guarded (no overdraft) but credits {pc}+{qc} exceed debits {pd}")
    lines_checked = JournalLine.objects.count()
    return InvariantReport(
        ok=not breaches,
        breaches=breaches,
        checked_at=timezone.now(),
        accounts_checked=accounts,
        lines_checked=lines_checked,
    )


def rail_payment_get(*, public_id: Any, subject_type: str, subject_id: str) -> RailPayment:
    """A payment in of the given subject (404 for another subject's: ids never cross subjects)."""
    payment = RailPayment.objects.filter(public_id=public_id, subject_type=subject_type, subject_id=subject_id).first()
    if payment is None:
        raise NotFoundError("No such payment.")
    return payment


def rail_payments_succeeded(*, rail: str, references: list[str]) -> set[str]:
    """Which of these rail references are payments in that the rail confirmed (refundable at the rail)."""
    return set(
        RailPayment.objects.filter(rail=rail, reference__in=references, status="succeeded").values_list(
            "reference", flat=True
        )
    )


# Reconciliation: ageing of open breaks and what an audit event of a break says.
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)


def break_age_bucket(*, opened_at: datetime.datetime, today: datetime.date | None = None) -> str:
    """The ageing bucket of a break opened at `opened_at` (days counted in UTC)."""
    days = ((today or timezone.now().date()) - opened_at.date()).days
    return next(name for name, low, high in AGE_BUCKETS if days >= low and (high is None or days <= high))


def breaks_open_by_age(*, today: datetime.date | None = None) -> dict[tuple[str, str], int]:
    """{(business, bucket): count} of breaks not yet resolved, every bucket present (zeros included)."""
    from ledger.models import BreakStatus, Business, ReconciliationBreak

    today = today or timezone.now().date()
    counts = {(business, name): 0 for business in Business.values for name, _low, _high in AGE_BUCKETS}
    for business, name, low, high in ((b, n, lo, hi) for b in Business.values for n, lo, hi in AGE_BUCKETS):
        rows = ReconciliationBreak.objects.exclude(status=BreakStatus.RESOLVED).filter(run__business=business)
        # opened on or before today - low days, and (for a closed bucket) after today - high - 1 days
        upper = datetime.datetime.combine(today - datetime.timedelta(days=low - 1), datetime.time.min, datetime.UTC)
        rows = rows.filter(opened_at__lt=upper)
        if high is not None:
            lower = datetime.datetime.combine(today - datetime.timedelta(days=high), datetime.time.min, datetime.UTC)
            rows = rows.filter(opened_at__gte=lower)
        counts[(business, name)] = rows.count()
    return counts


def break_audit_event(*, break_row: Any, event: str, actor: str) -> dict[str, Any]:
    """The audit event (audit.services.event_record's arguments) of a step on a break, on its run's
    chain: the line compared, the decision and any money moved. Business apps record it as it is."""
    return {
        "kind": f"reconciliation.{event}",
        "subject_type": "reconciliation_run",
        "subject_id": str(break_row.run.public_id),
        "actor": actor or "system",
        "payload": _break_audit_payload(break_row, event),
    }


def breaks_found_alert(*, run: Any) -> dict[str, Any] | None:
    """The operators' alert (notifications' send_escalation_alert arguments) for a run with breaks."""
    if not run.break_count:
        return None
    return {
        "kind": "reconciliation_breaks_found",
        "context": {"reference": f"{run} ({run.public_id})", "break_count": run.break_count},
        "subject_type": "reconciliation_run",
        "subject_id": str(run.public_id),
        "dedupe_key": f"reconciliation:{run.public_id}",
    }


def _break_audit_payload(break_row: Any, event: str) -> dict[str, Any]:
    line = break_row.line
    return {
        "event": event,
        "break": str(break_row.public_id),
        "run": str(break_row.run.public_id),
        "run_kind": break_row.run.kind,
        "outcomes": line.outcome_list,
        "reference": line.reference,
        "key": line.key,
        "currency": line.currency,
        "our_amount": None if line.our_amount is None else str(line.our_amount),
        "their_amount": None if line.their_amount is None else str(line.their_amount),
        "difference": str(line.difference),
        "status": break_row.status,
        "reason_code": break_row.reason_code,
        "note": break_row.note,
        "correction": break_row.correction,
        "correction_entry": str(break_row.correction_entry.public_id) if break_row.correction_entry else None,
        "requested_by": break_row.requested_by,
        "decided_by": break_row.decided_by,
    }


def accounts_posted_sum_as_of(*, account_ids: list[int], at: datetime.datetime) -> Decimal:
    """Σ of the accounts' posted balances (each on its normal side) at `at`."""
    return sum((account_balance_as_of(account_id=i, at=at).balance for i in account_ids), start=ZERO)


def books_at_rails_as_of(*, currency: str, at: datetime.datetime) -> tuple[Decimal, list[int]]:
    """What the books say the rails hold for customers at `at`: every rail's clearing account less the
    payouts in flight; and the ids of the system accounts counted (the trial balance leaves them out)."""
    system = Account.objects.filter(owner_type="system", currency=currency)
    clearing = list(system.filter(purpose="rail_clearing").values_list("pk", flat=True))
    in_flight = list(system.filter(purpose="payouts_in_flight").values_list("pk", flat=True))
    books = accounts_posted_sum_as_of(account_ids=clearing, at=at) - accounts_posted_sum_as_of(
        account_ids=in_flight, at=at
    )
    return books, clearing + in_flight
