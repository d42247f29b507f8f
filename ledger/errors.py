"""Errors raised by `ledger.services`. Each has its own `code`; the API renders RFC 9457 problems.

| code | status | when |
|---|---|---|
| invalid_amount | 422 | zero, negative, non-numeric, float or finer than the currency's minor unit |
| unknown_account | 404 | an account id that does not exist |
| account_closed | 409 | posting to a closed account (voids are still allowed) |
| account_not_empty | 409 | closing an account with a balance or pending holds |
| currency_mismatch | 422 | an amount's currency differs from an account's, or a currency is unsupported |
| unbalanced_entry | 422 | debits differ from credits in some currency |
| insufficient_funds | 409 | a guarded account would go below zero available (pending counted) |
| hold_already_resolved | 409 | posting/voiding a hold already posted, voided or expired |
| hold_expired | 409 | posting a hold past its expiry |
| idempotency_conflict | 422 | an idempotency key reused with different content (the key is named) |
| entry_already_reversed | 409 | reversing an entry twice (also the loser of two concurrent reversals) |
| entry_not_reversible | 409 | reversing a payout, settlement, hold post or reversal, or one tied to a payout/hold |
| invalid_transition | 409 | a payout outcome that its current status does not allow |
| payout_outcome_unknown | 409 | retrying a payout whose outcome is not known to be failed |
| account_conflict | 409 | account_open with attributes differing from the existing account |
"""

from __future__ import annotations

from escrow_project.common import amounts
from escrow_project.common.errors import (
    ConflictError,
    DomainError,
    InvalidTransitionError,
    NotFoundError,
    UnprocessableError,
)

__all__ = [
    "AccountClosedError",
    "AccountConflictError",
    "AccountNotEmptyError",
    "CurrencyMismatchError",
    "DomainError",
    "EntryAlreadyReversedError",
    "EntryNotReversibleError",
    "HoldAlreadyResolvedError",
    "HoldExpiredError",
    "IdempotencyConflictError",
    "InsufficientFundsError",
    "InvalidAmountError",
    "InvalidTransitionError",
    "LedgerError",
    "PayoutOutcomeUnknownError",
    "UnbalancedEntryError",
    "UnknownAccountError",
]


class LedgerError(DomainError):
    """Marker base so callers can catch every ledger refusal at once."""


class InvalidAmountError(amounts.InvalidAmountError, LedgerError):
    """The platform's amount refusal (escrow_project.common.amounts), catchable as a ledger error."""


class UnknownAccountError(NotFoundError, LedgerError):
    code = "unknown_account"
    title = "No such account"


class AccountClosedError(ConflictError, LedgerError):
    code = "account_closed"
    title = "The account is closed"


class AccountNotEmptyError(ConflictError, LedgerError):
    code = "account_not_empty"
    title = "The account still holds money"


class AccountConflictError(ConflictError, LedgerError):
    code = "account_conflict"
    title = "The account exists with other attributes"


class CurrencyMismatchError(UnprocessableError, LedgerError):
    code = "currency_mismatch"
    title = "Currencies do not match"


class UnbalancedEntryError(UnprocessableError, LedgerError):
    code = "unbalanced_entry"
    title = "Debits and credits differ"


class InsufficientFundsError(ConflictError, LedgerError):
    code = "insufficient_funds"
    title = "Insufficient funds"


class HoldAlreadyResolvedError(ConflictError, LedgerError):
    code = "hold_already_resolved"
    title = "The hold was already resolved"


class HoldExpiredError(ConflictError, LedgerError):
    code = "hold_expired"
    title = "The hold has expired"


class IdempotencyConflictError(UnprocessableError, LedgerError):
    code = "idempotency_conflict"
    title = "Idempotency key reused with different content"


class EntryAlreadyReversedError(ConflictError, LedgerError):
    code = "entry_already_reversed"
    title = "The entry was already reversed"


class EntryNotReversibleError(ConflictError, LedgerError):
    code = "entry_not_reversible"
    title = "The entry cannot be reversed"


class PayoutOutcomeUnknownError(ConflictError, LedgerError):
    code = "payout_outcome_unknown"
    title = "The payout's outcome is not known yet"


from escrow_project.common.error_codes import ErrorCode  # noqa: E402 - the registry below documents the classes above

ERROR_CODES: tuple[ErrorCode, ...] = (
    ErrorCode("account_closed", 409, "posting to a closed account (voids are still allowed)"),
    ErrorCode("account_conflict", 409, "account_open with attributes differing from the existing account"),
    ErrorCode("account_not_empty", 409, "closing an account with a balance or pending holds"),
    ErrorCode("already_refunded", 409, "this payment was already refunded"),
    ErrorCode("batch_too_large", 422, "a ledger batch holds more operations than the limit"),
    ErrorCode("currency_mismatch", 422, "an amount's currency differs from an account's, or a currency is unsupported"),
    ErrorCode("empty_batch", 422, "A batch needs at least one operation"),
    ErrorCode("entry_already_reversed", 409, "reversing an entry twice (also the loser of two concurrent reversals)"),
    ErrorCode(
        "entry_not_reversible",
        409,
        "reversing a payout, settlement, hold post or reversal, or one tied to a payout/hold",
    ),
    ErrorCode("hold_already_resolved", 409, "posting/voiding a hold already posted, voided or expired"),
    ErrorCode("hold_expired", 409, "posting a hold past its expiry"),
    ErrorCode(
        "idempotency_conflict",
        422,
        "a payment key reused with another amount, currency or rail (refused before the rail is called)",
    ),
    ErrorCode("insufficient_funds", 409, "a guarded account would go below zero available (pending counted)"),
    ErrorCode("invalid_client_secret", 403, "the client secret is not valid"),
    ErrorCode("invalid_expiry", 422, "expires_at must be in the future"),
    ErrorCode("invalid_side", 422, "direction must be 'credit' or 'debit'"),
    ErrorCode("malformed_event", 422, "a correctly signed body without `id`, `type` or `data.object`"),
    ErrorCode("not_refundable", 409, "only a payment the rail took and the platform did not credit is refunded here"),
    ErrorCode("operator_entry_closed", 409, "the ledger entry request was already approved or rejected"),
    ErrorCode("payout_already_retried", 409, "the payout was already retried; the message names the retry"),
    ErrorCode("payout_outcome_unknown", 409, "retrying a payout whose outcome is not known to be failed"),
    ErrorCode("payout_succeeded", 409, "the payout succeeded; there is nothing to retry"),
    ErrorCode("refund_failed", 409, "the payment rail refused the refund; the message gives its reason"),
    ErrorCode("same_account", 422, "A transfer needs two different accounts"),
    ErrorCode("unbalanced_entry", 422, "debits differ from credits in some currency"),
    ErrorCode("unknown_account", 404, "an account id that does not exist"),
    ErrorCode("unknown_entry", 404, "no journal entry with that id"),
    ErrorCode("unknown_hold", 404, "no hold with that id"),
    ErrorCode("unknown_payout", 404, "no payout with that id"),
    ErrorCode("unknown_rail", 422, "the payment rail named is not configured on this platform"),
    ErrorCode("break_not_audited", 409, "no app recorded the break's step in the audit trail, so the step was refused"),
    ErrorCode("break_not_open", 409, "the reconciliation break is already resolved or waits for a write-off approval"),
    ErrorCode("break_not_pending", 409, "the break has no write-off waiting for a second person"),
    ErrorCode("comment_required", 422, "a comment on a break needs some text"),
    ErrorCode(
        "correction_not_allowed",
        422,
        "only a resolution that moves money (corrected internally, write-off) takes a correction",
    ),
    ErrorCode("invalid_reason", 422, "reason_code is not one of the resolution reason codes"),
    ErrorCode("invalid_run", 422, "the run filter is not a reconciliation run's id"),
    ErrorCode("invalid_tolerance", 422, "the matching tolerance cannot be negative"),
    ErrorCode("note_required", 422, "a resolution needs a note saying why"),
    ErrorCode("correction_account_unknown", 422, "a break's correction names an account that does not exist"),
)
