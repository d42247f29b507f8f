"""Error codes the identity app answers (docs/errors.md is generated from these)."""

from __future__ import annotations

from escrow_project.common.error_codes import ErrorCode

ERROR_CODES: tuple[ErrorCode, ...] = (
    ErrorCode("api_key_expiry_past", 422, "the expiry is in the past"),
    ErrorCode("api_key_retired", 409, "this key is revoked or was already rotated; rotate its successor"),
    ErrorCode(
        "api_key_scope_invalid", 422, "a key's scopes must be business roles (not org_admin, operator or auditor)"
    ),
    ErrorCode(
        "client_of_not_allowed",
        422,
        "only a household (kind individual) is a client of a tenant; businesses are shared",
    ),
    ErrorCode("organization_exists", 409, "the resource's state does not allow this"),
    ErrorCode("party_of_another_tenant", 403, "the household is a client of another escrow company"),
    ErrorCode(
        "platform_role_outside_platform",
        422,
        "operator and auditor roles can only be held in the platform operator's organization",
    ),
    ErrorCode(
        "sign_in_locked",
        429,
        "too many failed sign-ins for this account from this address (`LOGIN_FAILURE_LIMIT`); pause"
        "d for `LOGIN_LOCKOUT_MINUTES`",
    ),
    ErrorCode("slug_required", 422, "the name has no letters or digits to make a slug from; send a slug"),
)
