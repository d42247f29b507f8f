from __future__ import annotations

from collections.abc import Iterator

import pytest

from audit import access

SUBJECT = "test_case"


@pytest.fixture
def case_access() -> Iterator[dict[str, set[int]]]:
    """A made-up subject type: `allowed[subject_id]` holds the user ids that are parties to it."""
    allowed: dict[str, set[int]] = {}
    access.register_subject_access(SUBJECT, lambda user, subject_id: user.pk in allowed.get(subject_id, set()))
    yield allowed
    access.unregister_subject_access(SUBJECT)
