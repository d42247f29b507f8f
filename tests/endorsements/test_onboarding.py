"""Onboarding: insurer profiles, policies and rate cards through the API, and the census import
(the opening position: members and coverages with their start dates, no premium charged)."""

from __future__ import annotations

import datetime
import time
import tracemalloc
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audit.models import AuditEvent
from endorsements.gateway.sftp import policy_audit_834
from endorsements.models import CensusImport, Coverage, EndorsementRequest, GroupPolicy, InsurerProfile, Member
from endorsements.sandbox.sftp import validate_834
from endorsements.services import funding, onboarding
from endorsements.services.intake import endorsement_submit
from escrow_project.common.errors import UnprocessableError
from identity.models import OrganizationKind
from ledger.models import JournalEntry
from tests.endorsements.conftest import LIVE_TERM, REAL_TODAY, addition, day
from tests.factories import OrganizationFactory, operator

HEADER = "member_id,name,date_of_birth,relationship,plan,start_date,employee_member_id\n"
STARTED = LIVE_TERM[0].isoformat()


def census_of(world, tmp_path, text: str) -> CensusImport:
    path = tmp_path / "census.csv"
    path.write_text(text)
    return CensusImport.objects.create(policy=world.policy, file_path=str(path), file_sha256="x" * 64)


def test_a_census_creates_covered_members_with_their_start_dates_and_charges_nothing(live_world, tmp_path):
    world = live_world
    rows = [
        f"E-1,Ann One,1980-01-01,employee,BASIC,{STARTED},",
        f"S-1,Sam One,1981-01-01,spouse,BASIC,{STARTED},E-1",
        f"E-2,Bo Two,1982-01-01,employee,GOLD,{STARTED},",  # no such plan
        f"C-9,Kid Nine,2015-01-01,child,BASIC,{STARTED},E-404",  # no such employee
        f"E-1,Ann Again,1980-01-01,employee,BASIC,{STARTED},",  # already loaded above
        "E-3,Cy Three,1983-01-01,employee,BASIC,1999-01-01,",  # before the term
    ]
    entries = JournalEntry.objects.count()

    census = onboarding.census_process(census_id=census_of(world, tmp_path, HEADER + "\n".join(rows)).pk)

    assert (census.status, census.rows_created, census.rows_rejected) == ("completed", 2, 4)
    codes = {e["row"]: e["errors"][0]["code"] for e in census.row_errors}
    assert codes == {3: "unknown_plan", 4: "unknown_employee", 5: "already_on_policy", 6: "outside_term"}
    spouse = Member.objects.get(relationship="spouse")
    assert spouse.status == Member.Status.COVERED
    assert spouse.employee is not None
    assert spouse.employee.relationship == "employee"
    assert set(Coverage.objects.values_list("start_date", flat=True)) == {LIVE_TERM[0]}
    # An opening position: no request, no hold, no premium.
    assert not EndorsementRequest.objects.exists()
    assert JournalEntry.objects.count() == entries
    assert AuditEvent.objects.filter(kind="census.imported", subject_id=str(world.employer.pk)).count() == 1
    # The same position as the full-file audit 834 (030) an insurer reconciles against.
    world.profile.x12_sender_id, world.profile.x12_receiver_id = "ESCROWPLAT", "NORTHWIND"
    world.profile.save()
    audit_file = policy_audit_834(
        policy_id=world.policy.pk, control_number=9, reference="audit-1", created_at=timezone.now()
    )
    assert validate_834(audit_file)[0]
    assert audit_file.count("INS*") == 2
    assert "INS*N*01*030*XN*A~" in audit_file

    # Endorsements afterwards price against that history: removing a member cover since the term
    # began refunds the rest of the term; adding someone already covered is refused.
    funding.ea_topup(employer=world.employer, amount="10.00", currency="USD", idempotency_key="t", actor="t")
    removal = endorsement_submit(
        employer=world.employer,
        data={"policy_number": "GP-1001", "kind": "deletion", "member_id": "S-1", "effective_date": day(30)},
        actor="t",
    )
    remaining = (LIVE_TERM[1] - (REAL_TODAY + datetime.timedelta(days=30))).days
    assert removal.direction == "credit"
    assert abs(removal.amount - Decimal("730") * remaining / 365) < Decimal("0.01")
    with pytest.raises(UnprocessableError) as refused:
        endorsement_submit(employer=world.employer, data=addition("E-1", effective=day(5)), actor="t")
    assert [e["code"] for e in refused.value.errors] == ["already_covered"]


@pytest.mark.slow  # 10,000 rows through the real intake: about 10 s
def test_a_census_of_10000_members_is_streamed_with_bounded_memory_and_progress(live_world, tmp_path):
    world = live_world
    lines = [f"E-{i},Person {i},1980-01-01,employee,BASIC,{STARTED}," for i in range(8000)]
    lines += [f"S-{i},Partner {i},1981-01-01,spouse,BASIC,{STARTED},E-{i}" for i in range(2000)]
    census = census_of(world, tmp_path, HEADER + "\n".join(lines) + "\n")
    seen: list[int] = []

    tracemalloc.start()
    started = time.perf_counter()
    done = onboarding.census_process(census_id=census.pk, progress=lambda c: seen.append(c.rows_done))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert (done.status, done.rows_created, done.rows_rejected) == ("completed", 10_000, 0)
    assert seen == [1000 * n for n in range(1, 11)]
    assert Member.objects.filter(policy=world.policy, status=Member.Status.COVERED).count() == 10_000
    assert Coverage.objects.filter(policy=world.policy).count() == 10_000
    # Memory follows the chunk, not the file: a whole-file load of 10,000 members is several times this.
    assert peak < 40 * 1024 * 1024
    print(f"census 10,000 members: {elapsed:.1f} s, peak traced memory {peak / 1e6:.1f} MB")


def test_a_census_rerun_after_a_crash_continues_after_the_last_committed_chunk(live_world, tmp_path, monkeypatch):
    world = live_world
    monkeypatch.setattr(onboarding, "CENSUS_CHUNK_ROWS", 2)
    lines = [f"E-{i},Person {i},1980-01-01,employee,BASIC,{STARTED}," for i in range(5)]
    census = census_of(world, tmp_path, HEADER + "\n".join(lines))
    onboarding._census_chunk(
        census_id=census.pk,
        chunk=[
            (
                1,
                {
                    "member_id": "E-0",
                    "name": "Person 0",
                    "date_of_birth": "1980-01-01",
                    "relationship": "employee",
                    "plan": "BASIC",
                    "start_date": STARTED,
                },
            )
        ],
    )

    done = onboarding.census_process(census_id=census.pk)

    assert (done.rows_created, done.rows_rejected) == (5, 0)
    assert Member.objects.count() == 5


@pytest.fixture
def op_client(db, client_for):
    return client_for(operator())


def test_operators_onboard_an_insurer_a_policy_and_its_census_through_the_api(op_client, db, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    insurer = OrganizationFactory.create(kind=OrganizationKind.INSURER)
    employer = OrganizationFactory.create(kind=OrganizationKind.EMPLOYER)
    url = f"/api/v1/onboarding/insurers/{insurer.public_id}"

    refused = op_client.put(url, {"protocol": "sftp", "sftp_host": "files.insurer.example"}, format="json")
    assert refused.status_code == 422
    assert {"sftp_username", "sftp_private_key"} <= {e["field"] for e in refused.json()["errors"]}
    assert not InsurerProfile.objects.filter(insurer=insurer).exists()

    made = op_client.put(
        url, {"protocol": "rest", "base_url": "https://api.insurer.example/", "api_key": "live-key"}, format="json"
    )
    assert made.status_code == 200
    assert made.json()["api_key_set"] is True
    assert "live-key" not in made.content.decode()
    assert InsurerProfile.objects.get(insurer=insurer).api_key == "live-key"  # the stub got an empty Bearer

    policy = op_client.post(
        "/api/v1/onboarding/policies",
        {
            "employer": str(employer.public_id),
            "insurer": str(insurer.public_id),
            "policy_number": "GP-77",
            "term_start": LIVE_TERM[0].isoformat(),
            "term_end": LIVE_TERM[1].isoformat(),
            "currency": "USD",
            "rates": [
                {"plan": "BASIC", "relationship": "employee", "annual_premium": "1200.00"},
                {"plan": "BASIC", "relationship": "spouse", "annual_premium": "730.00"},
            ],
        },
        format="json",
    )
    assert policy.status_code == 201, policy.json()
    created = GroupPolicy.objects.get(public_id=policy.json()["id"])
    assert created.rates.count() == 2
    more = op_client.post(
        f"/api/v1/onboarding/policies/{created.public_id}/rates",
        {"rates": [{"plan": "BASIC", "relationship": "child", "annual_premium": "365.00"}]},
        format="json",
    )
    assert more.status_code == 201
    clash = op_client.post(
        f"/api/v1/onboarding/policies/{created.public_id}/rates",
        {"rates": [{"plan": "BASIC", "relationship": "child", "annual_premium": "1.00"}]},
        format="json",
    )
    assert clash.status_code == 409

    upload = SimpleUploadedFile("census.csv", (HEADER + f"E-1,Ann One,1980-01-01,employee,BASIC,{STARTED},\n").encode())
    response = op_client.post(
        f"/api/v1/onboarding/policies/{created.public_id}/census", {"file": upload}, format="multipart"
    )
    assert response.status_code == 202
    census = CensusImport.objects.get(public_id=response.json()["id"])
    onboarding.census_process(census_id=census.pk)  # what the worker's task does
    progress = op_client.get(f"/api/v1/onboarding/census/{census.public_id}").json()
    assert (progress["status"], progress["rows_done"], progress["rows_created"]) == ("completed", 1, 1)


def test_onboarding_is_for_operators_only(client_for, live_world):
    response = client_for(live_world.hr).post("/api/v1/onboarding/policies", {}, format="json")
    assert response.status_code == 403


def test_an_operator_imports_a_census_from_the_admin(client, live_world, tmp_path, settings):
    from django.urls import reverse

    from identity.models import User

    settings.MEDIA_ROOT = str(tmp_path)
    client.force_login(User.objects.create_superuser("census-root", "root@example.test", "pw-not-used-elsewhere"))
    url = reverse("admin:endorsements_grouppolicy_census", args=[live_world.policy.pk])
    assert client.get(url).status_code == 200
    upload = SimpleUploadedFile("c.csv", (HEADER + f"E-1,Ann One,1980-01-01,employee,BASIC,{STARTED},\n").encode())

    response = client.post(url, {"file": upload})

    assert response.status_code == 302
    census = CensusImport.objects.get(policy=live_world.policy)
    assert onboarding.census_process(census_id=census.pk).rows_created == 1


def test_a_census_can_be_the_employer_s_full_file_834(live_world, tmp_path, settings):
    from endorsements import x12

    settings.MEDIA_ROOT = str(tmp_path)
    lines = [
        x12.Enrollment("030", "E-1", "E-1", "employee", "Ann One", datetime.date(1980, 1, 1), "BASIC", LIVE_TERM[0]),
        x12.Enrollment("030", "S-1", "E-1", "spouse", "Sam One", datetime.date(1981, 1, 1), "BASIC", LIVE_TERM[0]),
        x12.Enrollment("024", "E-2", "E-2", "employee", "Bo Two", datetime.date(1982, 1, 1), "BASIC", LIVE_TERM[0]),
    ]
    text = x12.write_834(
        envelope=x12.Envelope("HRSYSTEM", "ESCROWPLAT", 3, datetime.datetime(2026, 1, 2, 9, 0, tzinfo=datetime.UTC)),
        reference="census-2026",
        transactions=[x12.Transaction834("GP-1001", "Acme", "acme", "Northwind", "NW", lines)],
        audit=True,
    )
    upload = SimpleUploadedFile("census.834", text.encode())
    census = onboarding.census_create(policy=live_world.policy, user=None, upload=upload)

    done = onboarding.census_process(census_id=census.pk)

    assert (done.rows_created, done.rows_rejected) == (2, 1)  # a termination is no opening position
    assert done.row_errors[0]["errors"][0]["field"] == "maintenance"
    spouse = Member.objects.get(relationship="spouse")
    assert spouse.employee is not None
    assert Coverage.objects.get(member=spouse).start_date == LIVE_TERM[0]
