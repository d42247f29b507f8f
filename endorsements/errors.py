"""Error codes the endorsements app answers (docs/errors.md is generated from these)."""

from __future__ import annotations

from escrow_project.common.error_codes import ErrorCode

ERROR_CODES: tuple[ErrorCode, ...] = (
    ErrorCode("account_not_found", 404, "no Endorsement Account in that currency; pass ?currency="),
    ErrorCode("batch_not_found", 404, "no such batch"),
    ErrorCode("batch_not_held", 409, "only a file held by the velocity breaker can be released or rejected"),
    ErrorCode("census_not_found", 404, "no such organization of that kind, policy or census import"),
    ErrorCode(
        "currency_without_policy",
        422,
        "no active policy of this employer is billed in that currency; top up in a policy's currency",
    ),
    ErrorCode("dispatch_not_found", 404, "no such dispatch"),
    ErrorCode(
        "duplicate_endorsement",
        409,
        "the same endorsement was already received; the message names the first one's tracking id",
    ),
    ErrorCode("employer_not_found", 404, "no such organization of that kind, policy or census import"),
    ErrorCode("employer_required", 403, "you act for several employers: name one with the `employer` parameter"),
    ErrorCode("empty_file", 422, "the census upload has no `file`, or it is empty"),
    ErrorCode(
        "endorsement_in_delivery", 409, "the endorsement is being delivered to the insurer; it cannot be cancelled now"
    ),
    ErrorCode(
        "endorsement_invalid_transition",
        409,
        "the endorsement's state does not allow this step; the message says its state",
    ),
    ErrorCode("endorsement_not_found", 404, "no such endorsement request"),
    ErrorCode("file_required", 422, "the census upload has no `file`, or it is empty"),
    ErrorCode("insurer_not_found", 404, "no such organization of that kind, policy or census import"),
    ErrorCode("insurer_not_onboarded", 422, "a policy for an insurer that has no profile yet"),
    ErrorCode("invalid_body", 422, "send the profile as a JSON object"),
    ErrorCode(
        "invalid_configuration",
        422,
        "an insurer profile whose protocol lacks what it needs (SOAP without a WSDL address; SFTP w"
        "ithout host, user, key, host key or X12 ids), or an invalid policy; `errors` names each field",
    ),
    ErrorCode("invalid_endorsement", 422, "the endorsement is invalid"),
    ErrorCode("invalid_event", 422, "each event must be an object"),
    ErrorCode("invalid_rates", 422, "a rate without a plan, a known relationship or a non-negative annual premium"),
    ErrorCode("invalid_signature", 401, "the callback signature is not valid"),
    ErrorCode("invalid_term", 422, "term_end is before term_start"),
    ErrorCode("malformed_callback", 422, "an insurer callback body that cannot be read; the message says why"),
    ErrorCode("missing_signature", 401, "the X-Insurer-Signature header is missing"),
    ErrorCode("missing_timestamp", 401, "the X-Insurer-Timestamp header is missing or not a Unix time"),
    ErrorCode("not_employer_hr", 403, "only an employer's HR staff may do this"),
    ErrorCode("policy_exists", 409, "the insurer already has a policy with that number"),
    ErrorCode("policy_not_found", 404, "no such organization of that kind, policy or census import"),
    ErrorCode("rate_exists", 409, "a rate for a plan and relationship the policy already prices (it priced history)"),
    ErrorCode("stale_timestamp", 401, "the callback timestamp is outside the accepted window"),
    ErrorCode("unknown_field", 422, "a profile field that onboarding does not set"),
    ErrorCode(
        "upload_unreadable",
        422,
        "a batch file refused at upload as a whole: not UTF-8 (the line is named), a CSV header missing "
        "`kind`/`member_id` or naming unknown columns, or a JSON/834 file that cannot be read; nothing is kept",
    ),
    ErrorCode(
        "unsupported_file_type",
        422,
        "upload a CSV (.csv, text/csv), JSON (.json, application/json) or X12 834 (.x12, .834, .edi) file",
    ),
    # Why one row of a batch or census was refused (in its row errors), never a problem's own code.
    ErrorCode("outside_term", None, "the effective date is outside the policy's term"),
    ErrorCode("unreadable", None, "the uploaded file as a whole cannot be read; the message says why and where"),
    ErrorCode("before_coverage_start", None, "the change takes effect before the member's coverage starts"),
    ErrorCode("currency_required", 422, "an 834 audit file needs the policies' currency"),
    ErrorCode("invalid_period", 422, "the statement period ends before it starts"),
    ErrorCode("period_required", 422, "a monthly statement needs period_start and period_end"),
    ErrorCode("statement_row_invalid", 422, "a statement row is refused; the message names its row number and why"),
    ErrorCode("statement_unreadable", 422, "the statement file cannot be read as the documented CSV or as an 834"),
)
