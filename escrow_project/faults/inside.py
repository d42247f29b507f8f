"""The suite's steps that need Django, run as `python -m escrow_project.faults.inside STEP` against the
suite's own cluster (the environment names it). Each prints one JSON document on its last line."""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import django

OPERATOR = "faults-operator"
PASSWORD = "faults-operator-pass-2026"  # noqa: S105 - a throwaway cluster's only user


def setup(wallets: int) -> dict[str, Any]:
    from identity.models import Organization, OrganizationKind, Role, User
    from identity.services import membership_grant
    from ledger import services

    org, _ = Organization.objects.get_or_create(
        slug="faults-ops", defaults={"name": "Fault suite operators", "kind": OrganizationKind.PLATFORM_OPERATOR}
    )
    user, created = User.objects.get_or_create(username=OPERATOR, defaults={"is_staff": True})
    if created:
        user.set_password(PASSWORD)
        user.save()
    membership_grant(user=user, organization=org, role=Role.OPERATOR)
    accounts = [
        services.account_open(
            owner_type="organization",
            owner_id=f"faults-{n}",
            purpose="wallet",
            currency="USD",
            normal_side="credit",
            no_overdraft=True,
        )
        for n in range(wallets)
    ]
    return {
        "user_id": user.pk,
        "username": OPERATOR,
        "password": PASSWORD,
        "wallets": [{"id": a.pk, "public_id": str(a.public_id)} for a in accounts],
    }


def payouts(seconds: float, out: Path) -> dict[str, Any]:
    """Request payouts from the wallets for `seconds`, each retried under its key until the ledger
    answers (PostgreSQL may be restarting); acknowledged keys are appended to `out` as they happen."""
    from django.db import close_old_connections

    from ledger import services
    from ledger.errors import InsufficientFundsError
    from ledger.models import Account

    wallet_ids = list(Account.objects.filter(owner_id__startswith="faults-").values_list("pk", flat=True))
    deadline = time.monotonic() + seconds
    acked = refused = retries = 0
    n = 0
    with out.open("a") as log:
        while time.monotonic() < deadline:
            n += 1
            key = f"faults-payout-{uuid.uuid4()}"
            account_id = wallet_ids[n % len(wallet_ids)]
            while time.monotonic() < deadline + 60:
                try:
                    payout = services.payout_request(
                        idempotency_key=key,
                        account_id=account_id,
                        amount=Decimal("1.00"),
                        currency="USD",
                        beneficiary={"name": "Fault suite", "account": "000123"},
                    )
                    log.write(json.dumps({"key": key, "payout": payout.pk}) + "\n")
                    log.flush()
                    acked += 1
                    break
                except InsufficientFundsError:
                    refused += 1
                    break
                except Exception:  # noqa: BLE001 - the database is being restarted: retry the same key
                    retries += 1
                    close_old_connections()
                    from django.db import connection

                    connection.close()
                    time.sleep(0.5)
            time.sleep(0.2)
    return {"payouts_acked": acked, "payouts_refused": refused, "payout_retries": retries}


def settle(seconds: float) -> dict[str, Any]:
    """Run every sweeper as if their time had come, until nothing is open or `seconds` pass."""
    from django.utils import timezone

    from ledger.models import Hold, PayoutIntent
    from ledger.services import holds_expire, payouts_sweep
    from ledger.states import PAYOUT_OPEN, HoldStatus
    from notifications.models import Notification, NotificationStatus
    from verifications.services import tasks_sweep

    deadline = time.monotonic() + seconds
    rounds = 0
    while True:
        rounds += 1
        later = timezone.now() + timedelta(minutes=10)
        payouts_sweep(now=later)
        holds_expire()
        tasks_sweep(now=later)
        _notifications_sweep()
        open_payouts = PayoutIntent.objects.filter(status__in=PAYOUT_OPEN).count()
        expired_holds = Hold.objects.filter(status=HoldStatus.PENDING, expires_at__lt=timezone.now()).count()
        pending_notifications = Notification.objects.filter(status=NotificationStatus.PENDING).count()
        if not (open_payouts or expired_holds) or time.monotonic() > deadline:
            return {
                "settle_rounds": rounds,
                "open_payouts": open_payouts,
                "expired_pending_holds": expired_holds,
                "pending_notifications": pending_notifications,
            }
        time.sleep(2)


def _notifications_sweep() -> None:
    from notifications.services.delivery import outbox_sweep

    outbox_sweep()


def check(acked_path: Path, payouts_path: Path, user_id: int) -> dict[str, Any]:
    """Money conserved, every acknowledged operation present exactly once, no payout twice."""
    from django.db.models import Count

    from ledger.models import EntryKind, JournalEntry, PayoutIntent
    from ledger.selectors import invariants_check
    from ledger.states import PayoutStatus

    problems: list[str] = []
    report = invariants_check()
    if not report.ok:
        problems += [f"invariant: {b}" for b in report.breaches]
    acked = [json.loads(line) for line in acked_path.read_text().splitlines() if line.strip()]
    for op in acked:
        key = f"api:{op['action']}:user:{user_id}:{op['key']}"
        found = list(JournalEntry.objects.filter(idempotency_key=key).values_list("public_id", flat=True))
        if len(found) != 1:
            problems.append(f"acknowledged {op['action']} {op['key']} is present {len(found)} times")
        elif str(found[0]) != op["entry"]:
            problems.append(f"acknowledged {op['action']} {op['key']} answered {op['entry']}, stored {found[0]}")
    payouts_acked = [json.loads(line) for line in payouts_path.read_text().splitlines() if line.strip()]
    stored = set(PayoutIntent.objects.filter(idempotency_key__startswith="faults-payout-").values_list("pk", flat=True))
    problems += [f"acknowledged payout {p['key']} is missing" for p in payouts_acked if p["payout"] not in stored]
    succeeded = PayoutIntent.objects.filter(status=PayoutStatus.SUCCEEDED)
    # A payout paid twice would show as a second settlement (or request) entry for one intent.
    settlements = JournalEntry.objects.filter(kind=EntryKind.PAYOUT_SETTLEMENT).count()
    if settlements != succeeded.count():
        problems.append(f"{settlements} payout settlements for {succeeded.count()} succeeded payouts")
    requests = JournalEntry.objects.filter(kind=EntryKind.PAYOUT).count()
    if requests != PayoutIntent.objects.count():
        problems.append(f"{requests} payout request entries for {PayoutIntent.objects.count()} payouts")
    return {
        "invariants_ok": report.ok,
        "accounts_checked": report.accounts_checked,
        "lines_checked": report.lines_checked,
        "acknowledged_operations": len(acked),
        "acknowledged_payouts": len(payouts_acked),
        "payouts_succeeded": succeeded.count(),
        "payouts_by_status": dict(PayoutIntent.objects.values_list("status").annotate(n=Count("id")).order_by()),
        "problems": problems,
    }


def main(argv: list[str]) -> int:
    django.setup()
    step = argv[0]
    if step == "setup":
        result = setup(int(argv[1]))
    elif step == "payouts":
        result = payouts(float(argv[1]), Path(argv[2]))
    elif step == "settle":
        result = settle(float(argv[1]))
    else:
        result = check(Path(argv[1]), Path(argv[2]), int(argv[3]))
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
