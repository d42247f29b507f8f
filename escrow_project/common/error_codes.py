"""One registry of every error code the platform answers, so clients can switch on `code`.

Each app lists its codes in `<app>/errors.py` as `ERROR_CODES`; the kernel's shared codes are
here. docs/errors.md is generated from the registry (`manage.py error_codes --write`), the OpenAPI
schema lists each operation's codes from it, and in tests an unregistered code fails the request
(`ERROR_CODES_STRICT`), so a code cannot ship undocumented.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from django.apps import apps


@dataclass(frozen=True)
class ErrorCode:
    code: str
    # None for a code that appears only inside `errors[]` (why a field was refused), never as the
    # problem's own `code`.
    status: int | None
    meaning: str


KERNEL_ERROR_CODES: tuple[ErrorCode, ...] = (
    ErrorCode("validation_error", 400, "a field is missing or invalid; `errors` names each field"),
    ErrorCode(
        "malformed_request",
        400,
        "the body could not be parsed, or it holds text that cannot be stored (a NUL character, a lone"
        " surrogate, `NaN`/`Infinity`, JSON nested deeper than `API_MAX_JSON_DEPTH`); 422 for a webhook"
        " body that is not JSON",
    ),
    ErrorCode("invalid_idempotency_key", 400, "the `Idempotency-Key` header is empty, too long or not printable"),
    ErrorCode("idempotency_key_required", 400, "this request moves money: send an `Idempotency-Key` header"),
    ErrorCode("domain_error", 400, "a business rule refused the request (a more specific code is normal)"),
    ErrorCode("not_authenticated", 401, "no credentials were sent"),
    ErrorCode("authentication_failed", 401, "the token or API key is expired, forged, revoked or for another audience"),
    ErrorCode(
        "permission_denied", 403, "your role (or your API key's scopes, or its read-only flag) does not allow this"
    ),
    ErrorCode("four_eyes_required", 403, "a second person must decide this, not the one who asked for it"),
    ErrorCode(
        "webhook_signature_invalid",
        403,
        "a signed webhook's signature header is missing, malformed or matches none of the configured secrets",
    ),
    ErrorCode("webhook_stale", 403, "a signed webhook's timestamp is outside the tolerance, in the past or the future"),
    ErrorCode("not_found", 404, "does not exist, or you may not see it (the two are not distinguished)"),
    ErrorCode("method_not_allowed", 405, "this path does not take that HTTP method"),
    ErrorCode("not_acceptable", 406, "the `Accept` header asks for a format the API does not produce (JSON)"),
    ErrorCode("conflict", 409, "the resource's state does not allow this"),
    ErrorCode("invalid_transition", 409, "this step is not allowed in the resource's current state"),
    ErrorCode("upload_too_large", 413, "a file over the size limit, refused on `Content-Length` before it is read"),
    ErrorCode("request_too_large", 413, "a body (not a file upload) over `DATA_UPLOAD_MAX_MEMORY_SIZE` (2.5 MB)"),
    ErrorCode("unsupported_media_type", 415, "the body's content type is not one this operation takes"),
    ErrorCode("upload_unsupported_type", 415, "a file whose content type and extension are not accepted here"),
    ErrorCode("unprocessable", 422, "well-formed but cannot be processed (a more specific code is normal)"),
    ErrorCode("idempotency_key_reused", 422, "the `Idempotency-Key` was used before for a different request"),
    ErrorCode("invalid_amount", 422, "an amount is refused; `errors[0].code` says why (see Amounts)"),
    ErrorCode("reason_required", 422, "this action needs a written reason"),
    ErrorCode("upload_missing", 400, "an upload without its file (multipart field `file`)"),
    ErrorCode("upload_rejected", 422, "the uploaded file was refused"),
    ErrorCode("upload_malformed", 422, "the file is not valid UTF-8 CSV / JSON / X12 with the expected columns"),
    ErrorCode("upload_too_many_rows", 422, "the file has more rows than the limit"),
    ErrorCode("rate_limited", 429, "slow down; `Retry-After` says for how many seconds"),
    ErrorCode("internal_error", 500, "a bug; nothing was changed; quote `request_id`"),
    ErrorCode("not_a_string", None, 'an amount sent as a JSON number or boolean; send a string such as "1200.00"'),
    ErrorCode("invalid_format", None, "an amount with an exponent, sign, spaces, separators or other scripts' digits"),
    ErrorCode("too_many_decimals", None, "more decimals than the currency has"),
    ErrorCode("zero", None, "an amount that must be positive is zero"),
    ErrorCode("negative", None, "an amount that must be positive is negative"),
    ErrorCode("too_large", None, "an amount at or above the platform's bound"),
    ErrorCode("out_of_range", None, "a percentage outside its range"),
)

KERNEL = "platform"


@functools.cache
def error_code_registry() -> dict[str, tuple[str, ErrorCode]]:
    """code -> (owning app label, entry), from the kernel and every installed app's `errors.ERROR_CODES`."""
    registry: dict[str, tuple[str, ErrorCode]] = {entry.code: (KERNEL, entry) for entry in KERNEL_ERROR_CODES}
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.errors")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.errors":
                raise
            continue
        for entry in getattr(module, "ERROR_CODES", ()):
            if entry.code in registry:
                raise ValueError(
                    f"error code {entry.code!r} is registered twice ({registry[entry.code][0]}, {config.label})"
                )
            registry[entry.code] = (config.label, entry)
    return registry


def is_registered(code: str) -> bool:
    return code in error_code_registry()


def codes_by_status(app_labels: set[str]) -> dict[int, list[str]]:
    """Problem codes an operation of these apps can answer, by HTTP status (kernel codes always)."""
    by_status: dict[int, list[str]] = {}
    for code, (owner, entry) in sorted(error_code_registry().items()):
        if entry.status is not None and (owner == KERNEL or owner in app_labels):
            by_status.setdefault(entry.status, []).append(code)
    return by_status


def registry_markdown() -> str:
    """The generated part of docs/errors.md: one table per owner."""
    registry = error_code_registry()
    owners = [KERNEL, *sorted({owner for owner, _ in registry.values()} - {KERNEL})]
    out: list[str] = []
    for owner in owners:
        rows = sorted(
            (entry for o, entry in registry.values() if o == owner),
            key=lambda e: (e.status is None, e.status or 0, e.code),
        )
        out.append(f"### {owner}\n")
        out.append("| code | status | meaning |")
        out.append("| --- | --- | --- |")
        for entry in rows:
            status = str(entry.status) if entry.status is not None else "in `errors[]`"
            out.append(f"| `{entry.code}` | {status} | {entry.meaning.replace('|', '/')} |")
        out.append("")
    return "\n".join(out)
