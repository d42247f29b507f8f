"""The audit kinds transactions writes, on the escrow's own chain (`escrow_transaction`)."""

from __future__ import annotations

from audit.audit_kinds import RECONCILIATION_KINDS
from audit.kinds import AuditKind

AUDIT_KINDS = (
    AuditKind("escrow.created", "an escrow transaction was created"),
    AuditKind("escrow.updated", "its terms were changed before it opened"),
    AuditKind("escrow.opened", "it opened: the parties can fund it"),
    AuditKind("escrow.funded", "the earnest money is held in full"),
    AuditKind("escrow.deposit_received", "a deposit was credited to the escrow"),
    AuditKind("escrow.payment_in_confirmed", "a payment in through a rail succeeded"),
    AuditKind("escrow.manual_deposit_recorded", "an operator recorded a wire or cheque"),
    AuditKind("escrow.manual_deposit_confirmed", "a second person confirmed a recorded deposit"),
    AuditKind("escrow.manual_deposit_rejected", "a recorded deposit was rejected"),
    AuditKind("escrow.verification_started", "its verification workflow started"),
    AuditKind("escrow.verification_verified", "a verification was verified"),
    AuditKind("escrow.verification_rejected", "a verification was rejected"),
    AuditKind("escrow.verification_failed", "a verification failed"),
    AuditKind("escrow.verification_overdue", "a verification is overdue"),
    AuditKind("escrow.verification_reassigned", "a verification was reassigned"),
    AuditKind("escrow.verification_waived", "the parties waived a rejected verification"),
    AuditKind("escrow.milestone_released", "a milestone's money was released"),
    AuditKind("escrow.payout_requested", "a payout was asked of the ledger"),
    AuditKind("escrow.payout_succeeded", "a payout reached its payee"),
    AuditKind("escrow.payout_failed", "a payout failed"),
    AuditKind("escrow.payment_retried", "a failed payment was tried again"),
    AuditKind("escrow.renegotiated", "the price or terms were renegotiated"),
    AuditKind("escrow.clear_to_close", "every verification passed: the escrow may settle"),
    AuditKind("escrow.settlement_approved", "a party approved the settlement"),
    AuditKind("escrow.settled", "the settlement was executed"),
    AuditKind("escrow.cancelled", "the escrow was cancelled"),
    AuditKind("escrow.dispute_raised", "a party raised a dispute"),
    AuditKind("escrow.dispute_resolved", "an operator resolved the dispute"),
    AuditKind("escrow.dispute_dismissed", "the dispute was dismissed"),
    AuditKind("escrow.paused", "payouts of this escrow were paused"),
    AuditKind("escrow.resumed", "payouts of this escrow resumed"),
    AuditKind("escrow.payouts_paused_all", "every payout of the platform was paused"),
    AuditKind("escrow.payouts_resumed_all", "payouts of the platform resumed"),
    AuditKind("escrow.payee_bank_details_proposed", "a payee's new bank details were proposed"),
    AuditKind("escrow.payee_bank_details_changed", "a payee's bank details changed (second person)"),
    AuditKind("escrow.payee_bank_details_rejected", "a payee's proposed bank details were rejected"),
    *RECONCILIATION_KINDS,
)
