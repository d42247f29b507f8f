"""Every write of the escrow lifecycle. Keyword-only, typed, each in one database transaction.

lifecycle:  escrow_create, escrow_update, escrow_open, escrow_cancel, escrow_waive, escrow_renegotiate,
            escrow_task_reassign; from verifications: escrow_verification_decided,
            escrow_verifications_passed, escrow_verification_overdue
funds:      deposit_receive, milestone_earn, payment_record_outcome, payment_retry, transaction_unblock,
            transactions_unblock_all
settlement: settlement_refresh, settlement_approve, settlement_execute
disputes:   dispute_raise, dispute_resolve, dispute_dismiss
controls:   payouts_pause_all, escrow_pause, payee_bank_details_propose / _confirm / _reject
"""

from transactions.services.controls import (
    escrow_pause,
    payee_bank_details_confirm,
    payee_bank_details_propose,
    payee_bank_details_reject,
    payouts_pause_all,
)
from transactions.services.disputes import dispute_dismiss, dispute_raise, dispute_resolve
from transactions.services.funds import (
    deposit_receive,
    milestone_earn,
    payment_record_outcome,
    payment_retry,
    transaction_unblock,
    transactions_unblock_all,
)
from transactions.services.lifecycle import (
    escrow_cancel,
    escrow_create,
    escrow_open,
    escrow_renegotiate,
    escrow_task_reassign,
    escrow_update,
    escrow_verification_decided,
    escrow_verification_overdue,
    escrow_verifications_passed,
    escrow_waive,
)
from transactions.services.settlement import settlement_approve, settlement_execute, settlement_refresh

__all__ = [
    "deposit_receive",
    "dispute_dismiss",
    "dispute_raise",
    "dispute_resolve",
    "escrow_cancel",
    "escrow_create",
    "escrow_open",
    "escrow_pause",
    "escrow_renegotiate",
    "escrow_task_reassign",
    "escrow_update",
    "escrow_verification_decided",
    "escrow_verification_overdue",
    "escrow_verifications_passed",
    "escrow_waive",
    "milestone_earn",
    "payee_bank_details_confirm",
    "payee_bank_details_propose",
    "payee_bank_details_reject",
    "payment_record_outcome",
    "payment_retry",
    "payouts_pause_all",
    "settlement_approve",
    "settlement_execute",
    "settlement_refresh",
    "transaction_unblock",
    "transactions_unblock_all",
]
