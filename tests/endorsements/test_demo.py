from __future__ import annotations

import pytest

from endorsements import demo
from endorsements.models import EndorsementRequest, GroupPolicy
from identity import demo as identity_demo


@pytest.mark.django_db
def test_demo_seed_is_idempotent_and_funds_the_employer():
    identity_demo.seed()
    lines = demo.seed()
    assert "NW-GRP-2026-0001" in lines[0]
    first = EndorsementRequest.objects.count()
    assert first == 4
    assert demo.seed()
    assert EndorsementRequest.objects.count() == first
    assert GroupPolicy.objects.count() == 1
    assert demo.extra_processes(8000)[0][0] == "sandbox-insurer"
