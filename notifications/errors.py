"""Error codes the notifications app answers (docs/errors.md is generated from these)."""

from __future__ import annotations

from escrow_project.common.error_codes import ErrorCode

ERROR_CODES: tuple[ErrorCode, ...] = (
    ErrorCode(
        "notification_channel_unknown", 400, "a notification channel that does not exist (email, sms, webhook, live)"
    ),
    ErrorCode("notification_context_invalid", 400, "the notification context must be a mapping"),
    ErrorCode(
        "notification_context_missing", 400, "the notification's template needs context variables that were not given"
    ),
    ErrorCode(
        "notification_kind_essential",
        400,
        "an essential notification kind (money, disputes, security, failures needing action) cannot be turned off",
    ),
    ErrorCode("notification_kind_unknown", 400, "a notification kind that does not exist"),
    ErrorCode("notification_not_retryable", 409, "only failed or sent notifications can be sent again"),
    ErrorCode("notification_template_missing", 400, "the notification kind has no template for that channel"),
    ErrorCode("organization_required", 400, "say which organization the endpoint is for"),
    ErrorCode("phone_invalid", 400, "the phone number must be in E.164 form (+ and 8 to 15 digits)"),
    ErrorCode("preference_digest_channel", 400, "only e-mail can be collected into a digest"),
    ErrorCode("preference_owner", 400, "A preference belongs to exactly one user or one organization"),
    ErrorCode("recipient_not_found", 404, "the user to notify does not exist"),
    ErrorCode("unsubscribe_link_expired", 400, "the one-click unsubscribe link is too old; use the preferences page"),
    ErrorCode("unsubscribe_link_invalid", 400, "the one-click unsubscribe link is forged, altered or for no account"),
    ErrorCode("unknown", None, "a notification kind that does not exist; the message lists the known kinds"),
    ErrorCode(
        "webhook_endpoint_limit", 409, "the organization already has the maximum number of active webhook endpoints"
    ),
    ErrorCode(
        "webhook_manager_role_required",
        403,
        "managing webhook endpoints needs an administrator or integration role in the organization",
    ),
    ErrorCode("webhook_url_insecure", 400, "a webhook URL that is not https (plain http only on the embedded default)"),
    ErrorCode(
        "webhook_url_invalid", 400, "a webhook URL without a host, with a bad port, credentials, or over 500 characters"
    ),
    ErrorCode("webhook_url_internal", 400, "a webhook URL pointing at a private, loopback or link-local address"),
)
