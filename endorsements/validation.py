"""Schema checks and the normalised content hash, shared by the API and the batch files.

Business rules that need the database live in `services/intake.py`; this module is pure so the
same row gives the same errors whichever door it came through.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from endorsements.models import EndorsementKind, Relationship
from escrow_project.common.crypto.blind_index import blind_index, normalise
from escrow_project.common.input_guard import text_refusal

FIELDS = (
    "policy_number",
    "kind",
    "member_id",
    "name",
    "date_of_birth",
    "relationship",
    "plan",
    "new_plan",
    "employee_member_id",
    "effective_date",
)
# What each field means and when it is needed: the single description the OpenAPI schema, the
# batch-format documentation and the HR page's help text are all built from.
FIELD_DESCRIPTIONS: dict[str, str] = {
    "policy_number": "The group policy's number at the insurer. Always required.",
    "kind": "addition, deletion or modification. Always required.",
    "member_id": "The covered person's id at the employer: 1-40 letters, digits, '.', '_', '/', '-'. Always required.",
    "name": "Full name. Required for an addition.",
    "date_of_birth": "YYYY-MM-DD. Required for an addition; not after effective_date.",
    "relationship": "employee, spouse, child or parent. Required for an addition.",
    "plan": "The plan code to cover the person under. Required for an addition.",
    "new_plan": "The plan code to move the person to. Required for a modification.",
    "employee_member_id": "For a dependant (spouse, child, parent): the member_id of their employee. Required then.",
    "effective_date": "YYYY-MM-DD: the day the change takes effect. Always required.",
}
ALWAYS_REQUIRED = ("policy_number", "kind", "member_id", "effective_date")
MEMBER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
PLAN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$")
MAX_FIELD_LENGTH = 200

MEMBER_INDEX_PURPOSE = "endorsements.member_id"


@dataclass
class RowError:
    field: str | None
    code: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "code": self.code, "message": self.reason}


@dataclass
class CleanRow:
    policy_number: str
    kind: str
    member_id: str
    relationship: str
    effective_date: datetime.date
    name: str = ""
    date_of_birth: datetime.date | None = None
    plan: str = ""
    new_plan: str = ""
    employee_member_id: str = ""
    member_index: str = ""
    employee_index: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def member_index(member_id: str) -> str:
    return blind_index(member_id, purpose=MEMBER_INDEX_PURPOSE)


def _text(raw: Mapping[str, Any], name: str, errors: list[RowError]) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str | int):
        errors.append(RowError(name, "invalid_type", f"{name} must be text."))
        return ""
    text = str(value).strip()
    if text_refusal(text):  # NUL or a lone surrogate: the database cannot store it
        errors.append(RowError(name, "invalid_text", f"{name} contains characters that cannot be stored."))
        return ""
    if len(text) > MAX_FIELD_LENGTH:
        errors.append(RowError(name, "too_long", f"{name} is longer than {MAX_FIELD_LENGTH} characters."))
        return ""
    return text


def _date(raw: Mapping[str, Any], name: str, errors: list[RowError], *, required: bool) -> datetime.date | None:
    text = _text(raw, name, errors)
    if not text:
        if required:
            errors.append(RowError(name, "required", f"{name} is required."))
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return datetime.date.fromisoformat(text)
    except ValueError:
        errors.append(RowError(name, "invalid_date", f"{name} must be a date as YYYY-MM-DD."))
        return None


def parse_row(raw: Mapping[str, Any]) -> tuple[CleanRow | None, list[RowError]]:
    """Schema validation: required fields by kind, formats, choices. No database access."""
    errors: list[RowError] = []
    if not isinstance(raw, Mapping):
        return None, [RowError(None, "invalid_type", "Each endorsement must be an object.")]
    # An unknown name is echoed in the row's errors (JSONB): made storable first.
    unknown = sorted(str(k) if not text_refusal(str(k)) else ascii(k) for k in raw if k not in FIELDS)
    for name in unknown:
        errors.append(RowError(name, "unknown_field", f"{name} is not a known field."))
    policy_number = _text(raw, "policy_number", errors)
    kind = _text(raw, "kind", errors).lower()
    member_id = _text(raw, "member_id", errors)
    relationship = _text(raw, "relationship", errors).lower()
    plan = _text(raw, "plan", errors)
    new_plan = _text(raw, "new_plan", errors)
    employee_member_id = _text(raw, "employee_member_id", errors)
    name = _text(raw, "name", errors)
    effective_date = _date(raw, "effective_date", errors, required=True)

    if not policy_number:
        errors.append(RowError("policy_number", "required", "policy_number is required."))
    if not kind:
        errors.append(RowError("kind", "required", "kind is required."))
    elif kind not in EndorsementKind.values:
        errors.append(RowError("kind", "invalid_choice", f"kind must be one of {', '.join(EndorsementKind.values)}."))
    if not member_id:
        errors.append(RowError("member_id", "required", "member_id is required."))
    elif not MEMBER_ID_RE.match(member_id):
        errors.append(
            RowError("member_id", "invalid_format", "member_id must be 1-40 letters, digits, '.', '_', '/' or '-'.")
        )
    date_of_birth = None
    if kind == EndorsementKind.ADDITION:
        date_of_birth = _date(raw, "date_of_birth", errors, required=True)
        if not name:
            errors.append(RowError("name", "required", "name is required for an addition."))
        if not relationship:
            errors.append(RowError("relationship", "required", "relationship is required for an addition."))
        if not plan:
            errors.append(RowError("plan", "required", "plan is required for an addition."))
        if relationship and relationship != Relationship.EMPLOYEE and not employee_member_id:
            errors.append(
                RowError("employee_member_id", "required", "A dependant needs the member_id of its employee.")
            )
        if employee_member_id and relationship == Relationship.EMPLOYEE:
            errors.append(RowError("employee_member_id", "not_allowed", "An employee has no employee_member_id."))
    if kind == EndorsementKind.MODIFICATION and not new_plan:
        errors.append(RowError("new_plan", "required", "new_plan is required for a modification."))
    if relationship and relationship not in Relationship.values:
        errors.append(
            RowError("relationship", "invalid_choice", f"relationship must be one of {', '.join(Relationship.values)}.")
        )
    for name_, value in (("plan", plan), ("new_plan", new_plan)):
        if value and not PLAN_RE.match(value):
            errors.append(RowError(name_, "invalid_format", f"{name_} has characters a plan code cannot have."))
    if employee_member_id and not MEMBER_ID_RE.match(employee_member_id):
        errors.append(RowError("employee_member_id", "invalid_format", "employee_member_id is not a valid member id."))
    if date_of_birth and effective_date and date_of_birth > effective_date:
        errors.append(RowError("date_of_birth", "after_effective_date", "date_of_birth is after the effective date."))
    if errors or effective_date is None:
        return None, errors
    return (
        CleanRow(
            policy_number=policy_number,
            kind=kind,
            member_id=member_id,
            relationship=relationship,
            effective_date=effective_date,
            name=name,
            date_of_birth=date_of_birth,
            plan=plan,
            new_plan=new_plan,
            employee_member_id=employee_member_id,
            member_index=member_index(member_id),
            employee_index=member_index(employee_member_id) if employee_member_id else "",
        ),
        [],
    )


def content_hash(row: CleanRow, *, policy_key: str) -> str:
    """SHA-256 of the normalised content that defines the endorsement.

    Personal values enter as their keyed blind indexes, so the stored hash reveals nothing about a
    person even though member ids and dates of birth have little entropy.
    """
    content: dict[str, str] = {
        "policy": policy_key,
        "kind": row.kind,
        "member": row.member_index,
        "effective_date": row.effective_date.isoformat(),
    }
    if row.kind == EndorsementKind.ADDITION:
        content |= {
            "relationship": row.relationship,
            "plan": normalise(row.plan),
            "employee": row.employee_index,
            "name": blind_index(row.name, purpose="endorsements.name"),
            "date_of_birth": blind_index(row.date_of_birth.isoformat() if row.date_of_birth else "", purpose="dob"),
        }
    elif row.kind == EndorsementKind.MODIFICATION:
        content["new_plan"] = normalise(row.new_plan)
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
