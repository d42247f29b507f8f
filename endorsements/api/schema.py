"""OpenAPI descriptions of the endorsement formats, built from the one list of fields in validation.py."""

from __future__ import annotations

from typing import Any

from endorsements.validation import ALWAYS_REQUIRED, FIELD_DESCRIPTIONS, FIELDS

ENDORSEMENT_EXAMPLE = {
    "policy_number": "GRP-2026-001",
    "kind": "addition",
    "member_id": "EMP-00042",
    "name": "Ada Lovelace",
    "date_of_birth": "1990-12-10",
    "relationship": "employee",
    "plan": "GOLD",
    "effective_date": "2026-12-15",
}

ENDORSEMENT_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One endorsement. Fields not needed for its kind may be omitted; unknown fields are refused.",
    "properties": {
        "employer": {
            "type": "string",
            "format": "uuid",
            "description": "The employer, when you act for several.",
        },
        **{name: {"type": "string", "description": FIELD_DESCRIPTIONS[name]} for name in FIELDS},
    },
    "required": list(ALWAYS_REQUIRED),
    "example": ENDORSEMENT_EXAMPLE,
}

_COLUMNS = "\n".join(f"| `{name}` | {FIELD_DESCRIPTIONS[name]} |" for name in FIELDS)
_CSV_HEADER = ",".join(FIELDS)
_CSV_EXAMPLE = _CSV_HEADER + "\n" + ",".join(str(ENDORSEMENT_EXAMPLE.get(name, "")) for name in FIELDS)

BATCH_FORMATS_DESCRIPTION = f"""
Upload a file of endorsements as the multipart field `file` (and `employer` when you act for several).
Accepted: **CSV** (`.csv`, UTF-8, a header line naming the columns below, one endorsement
per line), **JSON** (`.json`, an array of objects with the same fields) or **X12 834** (`.x12`,
`.834`, `.edi`). The answer is 202 with the batch; follow `Location` for progress and
`/rows` (or `/rows.csv`) for each row's outcome and errors. Rows are numbered as a spreadsheet
shows the file: the header is row 1.

| column | meaning |
| --- | --- |
{_COLUMNS}

CSV example:

```
{_CSV_EXAMPLE}
```
"""

BATCH_UPLOAD_ANSWERS = """
**Answers.** 202: the file is accepted and queued (`rows_total` counted). 200: the same file was
uploaded before; the answer is that first batch, with `repeated: true`. 422 `upload_unreadable`:
the file's encoding (not UTF-8: the line is named), CSV header or structure is wrong; nothing is
kept. A file far above the employer's usual pattern is accepted and then `held` for review.
"""
