"""Defensive parsing of what callers send, shared by the API parsers, webhooks and batch files.

PostgreSQL refuses NUL characters in text and lone UTF-16 surrogates cannot be encoded to UTF-8:
either reaches the database as an exception (a 500) unless refused at the edge. Deeply nested JSON
exhausts the C stack of the parser that builds it, so depth is measured with a streaming,
non-recursive tokenizer (ijson) before any object is built.

    body = json_loads_bounded(raw)                    # raises InputRefused
    ts = unix_timestamp_or_none(request.headers.get("X-Insurer-Timestamp", ""))
    sigs = signatures_in(request.headers.get("X-Insurer-Signature", ""), scheme="v1")
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from typing import IO, Any

import ijson
from django.conf import settings

# Ten digits reach the year 2286; more is garbage, and int() of thousands of digits is slow or fails.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{1,256}")
MAX_SIGNATURES = 8


class InputRefused(ValueError):
    """What was sent cannot be taken as it is; the message says why without quoting it."""


def max_json_depth() -> int:
    return int(getattr(settings, "API_MAX_JSON_DEPTH", 32))


def text_refusal(value: str) -> str | None:
    """Why this text cannot be stored, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    return None


def check_strings(value: Any, *, where: str = "The request") -> None:
    """Every key and string in a parsed JSON (or form) value must be storable; walked without recursion."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            reason = text_refusal(item)
            if reason:
                raise InputRefused(f"{where} {reason}.")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)


def check_json_depth(raw: bytes | IO[bytes], *, max_depth: int | None = None) -> None:
    """Refuse JSON nested deeper than the limit, reading tokens only (no objects are built)."""
    limit = max_depth if max_depth is not None else max_json_depth()
    depth = 0
    source = io.BytesIO(raw) if isinstance(raw, bytes) else raw
    try:
        for event in ijson.basic_parse(source, multiple_values=True):
            kind = event[0]
            if kind in ("start_map", "start_array"):
                depth += 1
                if depth > limit:
                    raise InputRefused(f"The JSON is nested deeper than {limit} levels.")
            elif kind in ("end_map", "end_array"):
                depth -= 1
    except ijson.JSONError:
        raise InputRefused("The body is not valid JSON.") from None


def _refuse_constant(name: str) -> Any:
    raise InputRefused(f"The JSON contains {name}, which is not a JSON number.")


def json_loads_bounded(raw: bytes, *, max_depth: int | None = None, where: str = "The body") -> Any:
    """json.loads for untrusted bytes: bounded depth, no NaN/Infinity, only storable strings."""
    check_json_depth(raw, max_depth=max_depth)
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InputRefused(f"{where} is not valid UTF-8 JSON.") from None
    check_strings(value, where=where)
    return value


def unix_timestamp_or_none(value: str) -> int | None:
    """A header's Unix time as an int; None for anything but 1-12 ASCII digits."""
    value = value.strip()
    return int(value) if _TIMESTAMP.fullmatch(value) else None


def signatures_in(header: str, *, scheme: str = "v1") -> list[str]:
    """The hex signatures of `scheme` in "v1=<hex>,v1=<hex>"; non-hex or surplus entries are dropped."""
    prefix = f"{scheme}="
    found: list[str] = []
    for part in header.split(",")[:MAX_SIGNATURES]:
        part = part.strip()
        if part.startswith(prefix) and _HEX_SIGNATURE.fullmatch(part[len(prefix) :]):
            found.append(part[len(prefix) :].lower())
    return found


def first_refused_text(values: Iterable[str]) -> str | None:
    for value in values:
        reason = text_refusal(value)
        if reason:
            return reason
    return None
