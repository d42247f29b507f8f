"""Every write of the escrow lifecycle. Keyword-only, typed, each in one database transaction.

lifecycle:  escrow_create, escrow_update, escrow_open, escrow_cancel, escrow_waive, escrow_renegotiate,
            escrow_task_reassign; from verifications: escrow_verification_decided,
            escrow_verifications_passed, escrow_verification_overdue
funds:      deposit_receive, milestone_earn, payment_record_outcome, payment_retry, transaction_unblock,
            transactions_unblock_all
settlement: settlement_refresh, settlement_approve, settlement_execute
disputes:   dispute_raise, dispute_resolve, dispute_dismiss
payments_in: payment_in_start (the payer pays at the rail), deposit_from_rail (the rail confirmed),
    manual_deposit_record/confirm/reject (a wire entered by hand; four eyes above the threshold)
reconciliation: escrow_three_way (rail statement vs books vs open escrow wallets, per day)
controls:   payouts_pause_all, escrow_pause, payee_bank_details_propose / _confirm / _reject
"""

from transactions.services._common import SUBJECT_TYPE
from transactions.services.controls import (
    escrow_pause,
    payee_bank_details_confirm,
    payee_bank_details_propose,
    payee_bank_details_reject,
    payee_rail_account_updated,
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
from transactions.services.payments_in import (
    deposit_from_rail,
    manual_deposit_confirm,
    manual_deposit_record,
    manual_deposit_reject,
    payment_in_start,
)
from transactions.services.reconciliation import escrow_three_way
from transactions.services.settlement import settlement_approve, settlement_execute, settlement_refresh

__all__ = [
    "SUBJECT_TYPE",
    "deposit_from_rail",
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
    "escrow_three_way",
    "escrow_update",
    "escrow_verification_decided",
    "escrow_verification_overdue",
    "escrow_verifications_passed",
    "escrow_waive",
    "manual_deposit_confirm",
    "manual_deposit_record",
    "manual_deposit_reject",
    "milestone_earn",
    "payee_bank_details_confirm",
    "payee_bank_details_propose",
    "payee_bank_details_reject",
    "payee_rail_account_updated",
    "payment_in_start",
    "payment_record_outcome",
    "payment_retry",
    "payouts_pause_all",
    "settlement_approve",
    "settlement_execute",
    "settlement_refresh",
    "transaction_unblock",
    "transactions_unblock_all",
]
