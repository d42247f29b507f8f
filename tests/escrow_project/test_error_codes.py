"""One registry of error codes: every code the source can raise is in it, and docs/errors.md shows it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from escrow_project.common import errors
from escrow_project.common.error_codes import error_code_registry
from escrow_project.common.errors import DomainError

ROOT = Path(settings.BASE_DIR)
SOURCE_PACKAGES = [
    "escrow_project",
    "identity",
    "ledger",
    "audit",
    "notifications",
    "verifications",
    "endorsements",
    "transactions",
]
# Raise sites whose status the test can read from the class named in the call.
STATUS_OF = {
    "DomainError": DomainError.status,
    "NotFoundError": errors.NotFoundError.status,
    "ConflictError": errors.ConflictError.status,
    "InvalidTransitionError": errors.InvalidTransitionError.status,
    "PermissionDeniedError": errors.PermissionDeniedError.status,
    "UnprocessableError": errors.UnprocessableError.status,
}


def _literal_codes() -> list[tuple[str, Any, str]]:
    """(code, status if the raise names a kernel class, where) for every literal `code=` and `code = ...`."""
    found: list[tuple[str, Any, str]] = []
    for package in SOURCE_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or "settings" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                    keywords = {kw.arg: kw.value for kw in node.keywords}
                    code = keywords.get("code") or keywords.get("closed_code")
                    if isinstance(code, ast.Constant) and isinstance(code.value, str) and name != "info":
                        explicit = keywords.get("status")
                        status = explicit.value if isinstance(explicit, ast.Constant) else STATUS_OF.get(str(name))
                        found.append((code.value, status, where))
                elif isinstance(node, ast.ClassDef):
                    for statement in node.body:
                        if (
                            isinstance(statement, ast.Assign)
                            and [getattr(t, "id", None) for t in statement.targets] == ["code"]
                            and isinstance(statement.value, ast.Constant)
                        ):
                            found.append((str(statement.value.value), None, where))
    return found


def test_every_code_in_the_source_is_registered_with_its_status():
    registry = error_code_registry()
    literal = _literal_codes()
    assert len(literal) > 100  # the scan is finding the raise sites, not silently nothing
    missing = sorted({f"{code} ({where})" for code, _, where in literal if code not in registry})
    assert not missing, "register these codes in their app's errors.py: " + ", ".join(missing)
    wrong = sorted(
        f"{code}: raised as {status} at {where}, registered as {registry[code][1].status}"
        for code, status, where in literal
        if status is not None and registry[code][1].status not in (status, None) and code != "malformed_request"
    )
    assert not wrong, wrong


def test_every_registered_problem_code_has_a_meaning():
    assert all(entry.meaning.strip() for _, entry in error_code_registry().values())


def test_docs_errors_md_is_generated_from_the_registry():
    call_command("error_codes", "--check")


def test_a_response_with_an_unregistered_code_fails_in_tests():
    with pytest.raises(LookupError, match="not registered"):
        errors.problem(status=409, code="surely_not_a_code", title="t", detail="d")
