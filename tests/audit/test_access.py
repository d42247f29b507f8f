from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from audit.access import user_may_see_subject
from identity.models import Role
from tests.audit.conftest import SUBJECT
from tests.factories import auditor, member, operator

pytestmark = pytest.mark.django_db


def test_parties_see_their_own_subject_only(case_access: dict[str, set[int]]) -> None:
    buyer, stranger = member(Role.BUYER), member(Role.BUYER)
    case_access["c1"] = {buyer.pk}

    assert user_may_see_subject(buyer, SUBJECT, "c1")
    assert not user_may_see_subject(buyer, SUBJECT, "c2")
    assert not user_may_see_subject(stranger, SUBJECT, "c1")
    assert not user_may_see_subject(AnonymousUser(), SUBJECT, "c1")


def test_auditors_and_operators_see_everything_even_unregistered_types(case_access: dict[str, set[int]]) -> None:
    assert user_may_see_subject(auditor(), SUBJECT, "c1")
    assert user_may_see_subject(operator(), "nobody_registered_this", "x")
    assert not user_may_see_subject(member(Role.BUYER), "nobody_registered_this", "x")
