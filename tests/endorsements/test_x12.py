"""X12 834 writing (checked by pyx12, the validator insurers' clearing houses use) and reading."""

from __future__ import annotations

import datetime

import pytest

from endorsements import x12
from endorsements.sandbox.sftp import validate_834
from tests.endorsements.conftest import REAL_TODAY

WHEN = datetime.datetime(2026, 3, 1, 12, 30, tzinfo=datetime.UTC)


def enrollment(code: str, relationship: str = "employee", member_id: str = "E-1") -> x12.Enrollment:
    return x12.Enrollment(
        maintenance=code,
        member_id=member_id,
        subscriber_id="E-1",
        relationship=relationship,
        person_name="Ann Marie Lee",
        date_of_birth=datetime.date(1990, 5, 17),
        plan="BASIC",
        effective_date=datetime.date(2026, 3, 5),
        tracking_id=f"ETRK{code}",
    )


def document(enrollments: list[x12.Enrollment], *, audit: bool = False, control: int = 7) -> str:
    transaction = x12.Transaction834(
        policy_number="GP-1001",
        sponsor_name="Acme*Corp~",  # separators in data must never break the file
        sponsor_id="acme",
        insurer_name="Northwind",
        insurer_id="NORTHWIND",
        enrollments=enrollments,
    )
    return x12.write_834(
        envelope=x12.Envelope("ESCROWPLAT", "NORTHWIND", control, WHEN),
        reference="dispatch:0b1c6f0e-1111-2222-3333-444455556666",
        transactions=[transaction, transaction],
        audit=audit,
    )


@pytest.mark.parametrize("code", ["021", "001", "024", "025"])
def test_each_maintenance_type_is_a_valid_834_with_a_999_that_accepts_it(code):
    text = document([enrollment(code), enrollment(code, relationship="spouse", member_id="S-2")])

    ok, ack = validate_834(text)

    assert ok, ack
    assert x12.parse_999(ack).status == "A"
    assert x12.parse_999(ack).group_control_number == 7
    assert f"INS*Y*18*{code}*" in text
    assert f"HD*{code}**HLT*BASIC~" in text


def test_the_full_file_audit_is_valid_and_says_verify():
    text = document([enrollment("030"), enrollment("030", relationship="child", member_id="C-3")], audit=True)

    ok, ack = validate_834(text)

    assert ok, ack
    assert "****4~" in text.split("\n")[3]  # BGN08 = 4 (verify)


def test_the_validator_refuses_a_broken_834_and_its_999_says_so():
    text = document([enrollment("021")]).replace("INS*Y*18*021*28*A", "INS*Y*99*021*28*A")

    ok, ack = validate_834(text)

    assert not ok
    assert not x12.parse_999(ack).accepted


def test_control_numbers_and_references_are_bounded():
    with pytest.raises(x12.X12Error):
        document([enrollment("021")], control=1_000_000_000)
    with pytest.raises(x12.X12Error):
        x12.write_834(envelope=x12.Envelope("A", "B", 1, WHEN), reference="x" * 51, transactions=[])


def test_an_hr_834_reads_as_intake_rows_even_in_small_chunks():
    text = document([enrollment("021"), enrollment("021", relationship="child", member_id="C-2"), enrollment("024")])
    pieces = [text[i : i + 7] for i in range(0, len(text), 7)]

    rows = list(x12.parse_834(x12.segments_stream(pieces)))

    assert [n for n, _ in rows] == [1, 2, 3, 4, 5, 6]  # two transaction sets of three lines
    assert rows[0][1] == {
        "policy_number": "GP-1001",
        "kind": "addition",
        "member_id": "E-1",
        "relationship": "employee",
        "name": "Ann Marie Lee",
        "date_of_birth": "1990-05-17",
        "plan": "BASIC",
        "effective_date": "2026-03-05",
    }
    assert rows[1][1]["employee_member_id"] == "E-1"
    assert rows[1][1]["member_id"] == "C-2"
    assert rows[2][1] == {
        "policy_number": "GP-1001",
        "kind": "deletion",
        "member_id": "E-1",
        "effective_date": "2026-03-05",
    }


def test_a_999_that_is_not_one_is_refused():
    with pytest.raises(x12.X12Error):
        x12.parse_999("not x12")
    with pytest.raises(x12.X12Error):
        x12.parse_999(document([enrollment("021")]))  # an 834, not a 999


def test_an_834_file_is_a_third_intake_format_with_per_row_results_and_dedupe(live_world):
    world = live_world
    from django.core.files.uploadedfile import SimpleUploadedFile

    from endorsements.models import Batch, BatchRow
    from endorsements.services import batches

    lines = [enrollment("021", member_id="E-1"), enrollment("021", member_id="E-1"), enrollment("030")]
    lines = [
        x12.Enrollment(**{**vars(e), "subscriber_id": "E-1", "effective_date": REAL_TODAY + datetime.timedelta(days=5)})
        for e in lines
    ]
    text = x12.write_834(
        envelope=x12.Envelope("HRSYSTEM", "ESCROWPLAT", 1, WHEN),
        reference="hr-file-1",
        transactions=[
            x12.Transaction834(
                policy_number="GP-1001",
                sponsor_name="Acme",
                sponsor_id="acme",
                insurer_name="Northwind",
                insurer_id="NW",
                enrollments=lines,
            )
        ],
    )
    upload = SimpleUploadedFile("enrol.834", text.encode(), content_type="application/octet-stream")
    batch = batches.batch_create(employer=world.employer, user=world.hr, upload=upload)
    assert batch.file_format == Batch.Format.X12

    assert batches.batch_process(batch_id=batch.pk) is True

    outcomes = list(BatchRow.objects.filter(batch=batch).values_list("row_number", "outcome"))
    assert outcomes == [(1, "accepted"), (2, "duplicate"), (3, "rejected")]
    [errors] = BatchRow.objects.filter(batch=batch, outcome="rejected").values_list("errors", flat=True)
    assert errors[0]["field"] == "kind"


def test_an_unreadable_834_is_refused_at_upload_with_a_reason(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from endorsements.models import Batch
    from endorsements.services import batches
    from escrow_project.common.errors import UnprocessableError

    upload = SimpleUploadedFile("enrol.x12", b"this is not an interchange at all" * 10)
    with pytest.raises(UnprocessableError, match="834") as refused:
        batches.batch_create(employer=world.employer, user=world.hr, upload=upload)

    assert refused.value.code == "upload_unreadable"
    assert not Batch.objects.exists()
