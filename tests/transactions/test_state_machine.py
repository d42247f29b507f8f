"""Random sequences of escrow actions: money is conserved, each milestone pays at most once, and
nothing leaves the escrow wallet while payouts are paused or the transaction is disputed."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from escrow_project.common.errors import DomainError
from ledger.models import JournalEntry, PayoutIntent
from ledger.selectors import account_balance, invariants_check
from tests.transactions.factories import World, deliver, dispatch_payouts, fund, make_escrow, make_world, task_of
from transactions import services
from transactions.models import Deposit, EscrowTransaction, Milestone, PayeeProfile, Payment, PlatformControl


def submit_again(task_id: int, payload: Any) -> None:
    from verifications.services import report_submit

    report_submit(task_id=task_id, payload=payload, source="webhook")


KINDS = ["title", "inspection", "appraisal", "lending"]


class EscrowMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.w: World = make_world()
        PayeeProfile.objects.filter(organization=self.w.inspection_firm).update(
            bank_details={"account_number": "77", "simulate": "fail_first_attempt"}
        )
        PlatformControl.objects.update_or_create(pk=1, defaults={"payouts_paused": False})
        self.txn = fund(self.w, make_escrow(self.w))
        self.steps = 0

    # --- helpers ---------------------------------------------------------------------------

    def _txn(self) -> EscrowTransaction:
        return EscrowTransaction.objects.get(pk=self.txn.pk)

    def _wallet_id(self) -> int:
        wallet_id = self._txn().wallet_account_id
        assert wallet_id is not None
        return wallet_id

    def _frozen(self) -> bool:
        txn = self._txn()
        return PlatformControl.objects.get(pk=1).payouts_paused or txn.paused or txn.status == "disputed"

    def _moved_out(self) -> tuple[Decimal, int]:
        wallet = account_balance(account_id=self._wallet_id())
        return wallet.posted_debits, PayoutIntent.objects.count()

    def _act(self, fn: Any, *, unfreezes: bool = False) -> None:
        self.steps += 1
        frozen_before = self._frozen()
        before = self._moved_out()
        with contextlib.suppress(DomainError):
            fn()
        if frozen_before and not unfreezes:
            assert self._moved_out() == before, "money moved while paused or disputed"

    # --- rules -----------------------------------------------------------------------------

    def _open_kinds(self) -> list[str]:
        return [k for k in KINDS if task_of(self.txn, k).status in ("assigned", "in_progress", "overdue")]

    @precondition(lambda self: bool(self._open_kinds()))
    @rule(data=st.data(), passing=st.sampled_from([True, True, True, False]))
    def agent_reports(self, data: st.DataObject, passing: bool) -> None:
        kind = data.draw(st.sampled_from(self._open_kinds()))
        self._act(lambda: deliver(self.txn, kind, passing=passing))

    @rule(kind=st.sampled_from(KINDS))
    def agent_repeats_its_report(self, kind: str) -> None:
        task = task_of(self.txn, kind)
        report = task.reports.filter(attempt=task.attempt).first()
        if report is not None:
            self._act(lambda: submit_again(task.pk, report.payload))

    @precondition(lambda self: self._txn().status == "needs_decision")
    @rule(kind=st.sampled_from(KINDS))
    def buyer_waives(self, kind: str) -> None:
        self._act(
            lambda: services.escrow_waive(transaction_id=self.txn.pk, verification_type=kind, actor=self.w.buyer_user)
        )

    @rule(globally=st.booleans())
    def operator_pauses(self, globally: bool) -> None:
        if globally:
            self._act(lambda: services.payouts_pause_all(actor=self.w.operator, paused=True))
        else:
            self._act(lambda: services.escrow_pause(transaction_id=self.txn.pk, actor=self.w.operator, paused=True))

    @rule()
    def operator_resumes(self) -> None:
        def resume() -> None:
            services.payouts_pause_all(actor=self.w.operator, paused=False)
            services.escrow_pause(transaction_id=self.txn.pk, actor=self.w.operator, paused=False)
            services.transaction_unblock(transaction_id=self.txn.pk)  # what on_commit does after a real commit

        self._act(resume, unfreezes=True)

    @precondition(lambda self: self._txn().status in ("funded", "verifying", "needs_decision", "clear_to_close"))
    @rule()
    def party_disputes(self) -> None:
        self._act(lambda: services.dispute_raise(transaction_id=self.txn.pk, raised_by=self.w.seller_user, reason="x"))

    @precondition(lambda self: self._txn().status == "disputed")
    @rule(resolution=st.sampled_from(["release", "refund", "split", "dismiss"]))
    def officer_resolves(self, resolution: str) -> None:
        dispute = self._txn().disputes.filter(status="open").first()
        if dispute is None:
            return

        def resolve() -> None:
            if resolution == "dismiss":
                services.dispute_dismiss(dispute_id=dispute.pk, actor=self.w.officer)
                services.transaction_unblock(transaction_id=self.txn.pk)
            else:
                share = "40" if resolution == "split" else None
                services.dispute_resolve(
                    dispute_id=dispute.pk, actor=self.w.officer, resolution=resolution, seller_share_pct=share
                )

        # A resolution is the one thing that moves money out of a disputed transaction (not when paused).
        paused = PlatformControl.objects.get(pk=1).payouts_paused or self._txn().paused
        self._act(resolve, unfreezes=not paused)

    @precondition(lambda self: self.steps > 8)
    @rule()
    def officer_cancels(self) -> None:
        self._act(lambda: services.escrow_cancel(transaction_id=self.txn.pk, actor=self.w.officer))

    @rule()
    def rail_answers(self) -> None:
        dispatch_payouts()

    @precondition(lambda self: Payment.objects.filter(transaction=self.txn, status="failed").exists())
    @rule()
    def officer_retries_failed(self) -> None:
        for payment in Payment.objects.filter(transaction=self.txn, status="failed"):
            self._act(lambda p=payment: services.payment_retry(payment_id=p.pk, actor=self.w.officer))

    @precondition(lambda self: self._txn().status == "clear_to_close")
    @rule()
    def closing(self) -> None:
        def settle() -> None:
            txn = self._txn()
            if txn.status != "clear_to_close":
                return
            from tests.transactions.factories import close_funds

            if not txn.deposits.filter(kind="loan").exists():
                close_funds(self.w, txn)
            services.settlement_execute(transaction_id=txn.pk, actor=self.w.officer)

        self._act(settle)

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def money_is_conserved(self) -> None:
        txn = self._txn()
        deposited = Deposit.objects.filter(transaction=txn).aggregate(t=Sum("amount"))["t"] or Decimal(0)
        paid = Payment.objects.filter(transaction=txn).aggregate(t=Sum("amount"))["t"] or Decimal(0)
        wallet = account_balance(account_id=self._wallet_id())
        assert deposited == wallet.balance + paid
        assert wallet.available >= 0
        assert invariants_check().ok

    @invariant()
    def each_milestone_pays_at_most_once(self) -> None:
        for milestone in Milestone.objects.filter(transaction=self.txn):
            assert Payment.objects.filter(milestone=milestone).count() <= 1
            posts = JournalEntry.objects.filter(
                idempotency_key=f"escrow:{self.txn.public_id}:milestone:{milestone.verification_type}:post"
            )
            assert posts.count() <= 1
        for payment in Payment.objects.filter(transaction=self.txn):
            assert (
                PayoutIntent.objects.filter(metadata__escrow_payment=str(payment.public_id), status="succeeded").count()
                <= 1
            )


@pytest.mark.slow
@pytest.mark.django_db
def test_random_action_sequences_keep_the_money_straight() -> None:
    run_state_machine_as_test(
        EscrowMachine,
        settings=settings(
            max_examples=6,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
