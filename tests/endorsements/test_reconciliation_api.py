"""Operators reconcile an insurer's statement through the API and work its breaks; reports and console."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from identity.models import Role, User
from ledger.models import ReconciliationBreak
from tests.console import confirm
from tests.endorsements.conftest import World
from tests.endorsements.test_reconciliation import STATEMENT, _statement_world
from tests.factories import member, operator

pytestmark = pytest.mark.django_db

R = "/api/v1/ledger/reconciliation"


def _upload(client, world: World, text: str = STATEMENT, key: str = "up-1"):
    return client.post(
        "/api/v1/endorsements/reconciliation/statements",
        {
            "insurer": str(world.insurer.public_id),
            "period_start": "2026-03-01",
            "period_end": "2026-03-31",
            "tolerance": "0.01",
            "file": io.BytesIO(text.encode()),
        },
        format="multipart",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_an_operator_uploads_a_statement_reads_its_lines_and_resolves_a_break(world: World, client_for):
    _statement_world(world)
    ops = client_for(operator())

    first = _upload(ops, world)
    assert first.status_code == 201, first.content
    run_id = first.json()["run"]
    assert (first.json()["lines"], first.json()["breaks"]) == (9, 6)
    again = _upload(ops, world, key="up-2")  # same file, another request: the same run
    assert (again.status_code, again.json()["run"]) == (200, run_id)

    runs = ops.get(f"{R}/runs/").json()["results"]
    assert [r["public_id"] for r in runs] == [run_id]
    dated = ops.get(f"{R}/runs/{run_id}/lines/", {"outcome": "date_delta"}).json()["results"]
    assert [(d["outcomes"], d["our_amount"], d["their_amount"], d["difference"]) for d in dated] == [
        (["amount_delta", "date_delta"], "60.0000", "40.0000", "-20.0000")
    ]
    breaks = ops.get(f"{R}/breaks/", {"run": run_id}).json()["results"]
    assert len(breaks) == 6
    assert {b["age_bucket"] for b in breaks} == {"0-30"}
    insurer_only = next(b for b in breaks if b["line"]["outcomes"] == ["missing_internal"])

    resolved = ops.post(
        f"{R}/breaks/{insurer_only['public_id']}/resolve/",
        {"reason_code": "raised_with_counterparty", "note": "not ours: asked the insurer to remove it"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="res-1",
    )
    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["status"] == "resolved"
    assert AuditEvent.objects.filter(subject_id=run_id, kind="reconciliation.resolved").count() == 1
    assert len(ops.get(f"{R}/breaks/", {"run": run_id}).json()["results"]) == 5

    csv = ops.get(f"{R}/runs/{run_id}/report.csv")
    text = b"".join(csv.streaming_content).decode()
    assert text.splitlines()[0].startswith("position,outcomes,is_break,reference")
    assert len(text.strip().splitlines()) == 10
    assert "raised_with_counterparty" in text
    pdf = ops.get(f"{R}/runs/{run_id}/report.pdf")
    assert (pdf.status_code, pdf["Content-Type"], pdf.content[:5]) == (200, "application/pdf", b"%PDF-")


def test_a_write_off_by_api_needs_another_operator(world: World, client_for):
    _statement_world(world)
    first, second = client_for(operator()), client_for(operator())
    run_id = _upload(first, world).json()["run"]
    brk = ReconciliationBreak.objects.filter(run__public_id=run_id, line__our_source="EQ-E-4-add").get()
    url = f"{R}/breaks/{brk.public_id}"

    first.post(f"{url}/resolve/", {"reason_code": "write_off", "note": "two cents"}, format="json",
               HTTP_IDEMPOTENCY_KEY="w-1")  # fmt: skip
    own = first.post(f"{url}/approve/", HTTP_IDEMPOTENCY_KEY="w-2")
    other = second.post(f"{url}/approve/", HTTP_IDEMPOTENCY_KEY="w-3")

    assert own.status_code == 403
    assert (other.status_code, other.json()["status"]) == (200, "resolved")


def test_people_other_than_operators_see_no_reconciliation(world: World, client_for):
    _statement_world(world)
    hr = client_for(member(Role.EMPLOYER_HR, world.employer))
    assert _upload(hr, world).status_code == 403
    assert hr.get(f"{R}/runs/").status_code == 403
    assert hr.get(f"{R}/breaks/").status_code == 403


def test_the_console_lists_runs_lines_and_breaks_with_filters_and_approves_write_offs(world: World, client):
    from endorsements.services.reconciliation import insurer_statement_import
    from ledger import services
    from tests.endorsements.test_reconciliation import MARCH

    _statement_world(world)
    run, _ = insurer_statement_import(insurer=world.insurer, handle=io.BytesIO(STATEMENT.encode()),
                                      period_start=MARCH[0], period_end=MARCH[1])  # fmt: skip
    root = User.objects.create_superuser("recon-root", "root@example.test", "pw-not-used-elsewhere")
    client.force_login(root)
    brk = run.breaks.get(line__our_source="EQ-E-4-add")
    services.break_resolve(break_id=brk.pk, actor="user:someone-else", reason_code="write_off", note="small")

    for name, query in [
        ("reconciliationrun", {"kind": "insurer_statement"}),
        ("reconciliationline", {"outcome": "date_delta"}),
        ("reconciliationbreak", {"age": "0-30", "status": "pending"}),
    ]:
        page = client.get(reverse(f"admin:ledger_{name}_changelist"), query)
        assert page.status_code == 200, name
    listing = client.get(reverse("admin:ledger_reconciliationbreak_changelist"), {"status": "pending"}).content
    assert str(brk.public_id).encode() in listing
    confirm(client, brk, "confirm")
    brk.refresh_from_db()
    assert (brk.status, brk.decided_by) == ("resolved", f"user:{root.pk}")


def test_an_operator_uploads_a_statement_in_the_console(world: World, client) -> None:
    import datetime

    from ledger.models import ReconciliationRun

    _statement_world(world)
    client.force_login(User.objects.create_superuser("recon-up", "up@example.test", "pw-not-used-elsewhere"))
    url = reverse("admin:endorsements_insurerprofile_statement", args=[world.profile.pk])
    assert client.get(url).status_code == 200

    upload = io.BytesIO(STATEMENT.encode())
    upload.name = "march.csv"
    answer = client.post(url, {"file": upload, "format": "statement_csv", "period": datetime.date(2026, 3, 15),
                               "tolerance": "0.01", "reason": "March statement from the insurer"})  # fmt: skip

    run = ReconciliationRun.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:ledger_reconciliationrun_change", args=[run.pk])
    assert client.get(answer["Location"]).status_code == 200
    assert (run.period_start, run.period_end, run.break_count) == (
        datetime.date(2026, 3, 1), datetime.date(2026, 3, 31), 6,
    )  # fmt: skip
