"""Error codes the transactions app answers (docs/errors.md is generated from these)."""

from __future__ import annotations

from escrow_project.common.error_codes import ErrorCode

ERROR_CODES: tuple[ErrorCode, ...] = (
    ErrorCode("agent_missing", 422, "no active agent of a needed verification type is available"),
    ErrorCode("already_approved", 409, "the settlement has all the approvals it needs"),
    ErrorCode("already_settled", 409, "the transaction is already settled"),
    ErrorCode("amount_mismatch", 422, "the deposit must be exactly the amount due; the message says how much"),
    ErrorCode("approval_duplicate", 409, "you already approved this settlement; another operator must"),
    ErrorCode("approval_not_required", 409, "this settlement is below the approval threshold"),
    ErrorCode("approvals_missing", 409, "the settlement has fewer operator approvals than it needs"),
    ErrorCode("bank_details_change_closed", 409, "the bank-details change was already confirmed or rejected"),
    ErrorCode(
        "closing_funds_short", 422, "the buyer's cash to close has not all arrived; the message says how much is short"
    ),
    ErrorCode("deposit_already_received", 409, "no payment of that kind is due now"),
    ErrorCode(
        "deposit_not_allowed",
        403,
        "parties do not record deposits: they pay through the payment instructions, and the escrow "
        "officer or an operator records a wire",
    ),
    ErrorCode("dispute_closed", 409, "the dispute is already resolved or withdrawn"),
    ErrorCode("invalid_bank_details", 422, "bank details need at least an account_number"),
    ErrorCode("invalid_closing_cost", 422, "a closing cost is paid by the buyer or the seller"),
    ErrorCode("invalid_currency", 422, "a currency the platform does not support"),
    ErrorCode("invalid_deposit_kind", 422, "a deposit kind other than earnest money, loan funds or closing funds"),
    ErrorCode("invalid_filter", 422, "dates are YYYY-MM-DD"),
    ErrorCode("invalid_wait", 422, "wait_for_change is a number of seconds from 0 to the documented maximum"),
    ErrorCode("invalid_parties", 422, "the buyer and the seller must be different parties"),
    ErrorCode(
        "invalid_party",
        422,
        "a party of the wrong kind (the platform, the escrow company, or not a business or party where one is needed)",
    ),
    ErrorCode("invalid_resolution", 422, "resolve by release, refund or split"),
    ErrorCode("invalid_split", 422, "A split needs the seller's share, above 0 and below 100 percent"),
    ErrorCode("lender_required", 422, "A purchase with a loan needs a lender"),
    ErrorCode("loan_not_funded", 409, "the loan funds have not arrived"),
    ErrorCode("manual_deposit_closed", 409, "the wire was already confirmed or rejected"),
    ErrorCode("manual_deposit_pending", 409, "a wire of that kind already waits for its second person"),
    ErrorCode("milestones_pending", 409, "A milestone is not released yet"),
    ErrorCode("no_loan", 409, "no payment of that kind is due now"),
    ErrorCode("not_clear_to_close", 409, "the settlement statement exists from clear to close on"),
    ErrorCode("not_disputable", 409, "the transaction cannot be disputed in its current state"),
    ErrorCode(
        "not_the_payer",
        403,
        "someone other than the buyer (the lender for loan funds), the escrow officer or an operator asks to pay",
    ),
    ErrorCode("nothing_due", 409, "no payment of that kind is due now"),
    ErrorCode("officer_not_at_escrow_company", 422, "the escrow officer named does not work at the escrow company"),
    ErrorCode(
        "org_admin_required",
        403,
        "only an administrator of this organization (or an operator) may change its bank details",
    ),
    ErrorCode("payee_missing", 422, "nobody is named to receive one of the settlement's amounts"),
    ErrorCode("payment_not_failed", 409, "only a failed payment can be retried"),
    ErrorCode("payouts_blocked", 409, "payouts are blocked (paused, disputed or cooling off); the message says which"),
    ErrorCode("payouts_paused", 409, "payouts are paused; lift the pause to execute the resolution"),
    ErrorCode("price_required", 422, "A renegotiation needs the new purchase_price"),
    ErrorCode(
        "seller_short", 422, "the seller's charges exceed the price; the seller would have to bring money to closing"
    ),
    ErrorCode("terms_locked", 409, "in this state the named terms can no longer change"),
    ErrorCode("time_locked", 409, "the settlement's time lock has not run out; the message says until when"),
    ErrorCode("unbalanced", 422, "the settlement statement does not balance"),
    ErrorCode("unknown_subject", 409, "the escrow transaction of this payment does not exist"),
    ErrorCode("wallet_mismatch", 422, "the escrow wallet does not hold exactly what the statement disburses"),
)
