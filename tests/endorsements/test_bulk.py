"""common.bulk.rows_update: each row gets its own values; rows not passed are untouched."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from endorsements.models import EndorsementRequest
from endorsements.services import funding
from endorsements.services.intake import endorsement_submit
from escrow_project.common.bulk import rows_update
from tests.endorsements.conftest import addition, day


def test_rows_update_writes_per_row_values_only_to_the_given_rows(live_world):
    world = live_world
    funding.ea_topup(employer=world.employer, amount="900.00", currency="USD", idempotency_key="t", actor="t")
    a, b, c = (
        endorsement_submit(employer=world.employer, data=addition(m, effective=day(5), plan="DAY"), actor="t")
        for m in ("E-1", "E-2", "E-3")
    )
    c_before = EndorsementRequest.objects.values("insurer_reference", "settled_amount").get(pk=c.pk)
    a.insurer_reference, a.settled_amount = "REF-A", Decimal("1.2345")
    b.insurer_reference, b.settled_amount = "REF-'B'", None
    rows_update(EndorsementRequest, [a, b], ["insurer_reference", "settled_amount"])
    got = dict(EndorsementRequest.objects.filter(pk__in=[a.pk, b.pk]).values_list("pk", "insurer_reference"))
    assert got == {a.pk: "REF-A", b.pk: "REF-'B'"}
    assert EndorsementRequest.objects.get(pk=a.pk).settled_amount == Decimal("1.2345")
    assert EndorsementRequest.objects.get(pk=b.pk).settled_amount is None
    assert EndorsementRequest.objects.values("insurer_reference", "settled_amount").get(pk=c.pk) == c_before


def test_rows_insert_writes_what_bulk_create_would_and_sets_primary_keys(world):
    import datetime

    from django.db import connection

    from endorsements.models import Member
    from endorsements.validation import member_index
    from escrow_project.common.bulk import rows_insert

    people = [
        Member(
            policy=world.policy,
            member_id=f"RI-{i}",
            member_index=member_index(f"RI-{i}"),
            person_name=f'O\'Brien, "{i}" {{x}}',  # quotes and braces: array-literal syntax if it leaked
            date_of_birth=cast(Any, datetime.date(1980, 1, 1 + i)),
            relationship="employee",
            plan="CORE",
        )
        for i in range(3)
    ]
    rows_insert(Member, people)
    assert all(p.pk is not None and not p._state.adding for p in people)
    stored = {m.pk: m for m in Member.objects.filter(pk__in=[p.pk for p in people])}
    for person in people:
        again = stored[person.pk]
        assert (again.member_id, again.person_name, again.date_of_birth) == (
            person.member_id,
            person.person_name,
            person.date_of_birth,
        )
        assert again.created_at is not None
    # Personal data is stored encrypted, as through the ORM.
    with connection.cursor() as cursor:
        cursor.execute("SELECT person_name FROM endorsements_member WHERE id = %s", [people[0].pk])
        assert "O'Brien" not in cursor.fetchone()[0]
