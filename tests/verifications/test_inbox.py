"""The verifier's inbox: their own tasks with deadlines, most urgent first; start work, deliver a
report, or say it cannot be done; nobody else's tasks and no step for a non-verifier."""

from __future__ import annotations

import html
import json
import random
import re

from identity.models import Role
from tests.factories import member
from tests.transactions.factories import fund, make_escrow, task_of
from transactions.models import EscrowTransaction
from verifications.agents.registry import provider_for
from verifications.models import VerificationReport
from verifications.states import TaskStatus


def _text(response) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).strip())


def test_the_inbox_lists_only_their_tasks_with_deadline_and_a_link_to_the_deal(world, client):
    txn = fund(world, make_escrow(world))
    client.force_login(world.inspector_user)

    response = client.get("/verifier/")
    text = _text(response)

    assert response.status_code == 200
    assert "Home inspection" in text
    assert "12 Harbor View Rd" in text
    assert "Title search" not in text  # the title company's task
    task = task_of(txn, "inspection")
    assert re.search(r"New: not started [A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M UTC", text)
    assert f'href="/escrow/{txn.public_id}/"' in response.content.decode()
    assert f'href="/verifier/tasks/{task.public_id}/"' in response.content.decode()


def test_the_verifier_starts_work_and_delivers_a_report_from_the_page(world, client):
    txn = fund(world, make_escrow(world))
    task = task_of(txn, "inspection")
    client.force_login(world.inspector_user)
    url = f"/verifier/tasks/{task.public_id}/"

    assert client.post(url + "act/", {"action": "start"}).status_code == 302
    assert task_of(txn, "inspection").status == TaskStatus.IN_PROGRESS
    report = provider_for("inspection").sandbox_report(
        context=task.workflow.context, passing=True, rng=random.Random(1)
    )
    response = client.post(url + "act/", {"action": "report", "report": json.dumps(report)})

    assert response.status_code == 302
    assert task_of(txn, "inspection").status == TaskStatus.VERIFIED
    assert "Report delivered and accepted." in _text(client.get(url))
    assert "Accepted" in _text(client.get("/verifier/"))


def test_a_malformed_report_is_refused_with_the_reason_and_nothing_recorded(world, client):
    txn = fund(world, make_escrow(world))
    task = task_of(txn, "inspection")
    client.force_login(world.inspector_user)

    response = client.post(
        f"/verifier/tasks/{task.public_id}/act/", {"action": "report", "report": json.dumps({"summary": "ok"})}
    )

    assert response.status_code == 422
    assert "does not match its schema" in _text(response)
    assert not VerificationReport.objects.filter(task=task).exists()
    assert task_of(txn, "inspection").status == TaskStatus.ASSIGNED


def test_a_member_who_is_not_a_verifier_sees_the_task_but_may_not_report(world, client):
    txn = fund(world, make_escrow(world))
    task = task_of(txn, "inspection")
    clerk = member(Role.AGENT, world.inspection_firm)
    client.force_login(clerk)

    response = client.post(f"/verifier/tasks/{task.public_id}/act/", {"action": "start"})

    assert response.status_code == 403
    assert task_of(txn, "inspection").status == TaskStatus.ASSIGNED


def test_another_agent_cannot_open_the_task(world, client):
    txn = fund(world, make_escrow(world))
    task = task_of(txn, "inspection")
    client.force_login(world.appraiser_user)

    assert client.get(f"/verifier/tasks/{task.public_id}/").status_code == 404
    assert client.post(f"/verifier/tasks/{task.public_id}/act/", {"action": "start"}).status_code == 404
    assert "Home inspection" not in _text(client.get("/verifier/"))


def test_saying_the_work_cannot_be_done_asks_the_parties_to_decide(world, client):
    txn = fund(world, make_escrow(world))
    task = task_of(txn, "inspection")
    client.force_login(world.inspector_user)

    client.post(f"/verifier/tasks/{task.public_id}/act/", {"action": "fail", "reason": "The house is locked."})

    assert task_of(txn, "inspection").status == TaskStatus.FAILED
    assert EscrowTransaction.objects.get(pk=txn.pk).status == "needs_decision"


def test_the_verifier_fills_in_the_report_form_and_a_finding_fails_the_rules(world, client):
    txn = fund(world, make_escrow(world))
    task = task_of(txn, "inspection")
    client.force_login(world.inspector_user)
    url = f"/verifier/tasks/{task.public_id}/"
    page = client.get(url).content.decode()
    assert 'name="findings-0-severity"' in page
    assert 'name="inspected_on"' in page

    response = client.post(
        url + "act/",
        {
            "action": "form",
            "inspected_on": "2026-06-01",
            "inspector_license": "HI-12345",
            "findings-0-area": "Electrical",
            "findings-0-description": "Double-tapped breaker",
            "findings-0-severity": "safety",
            "findings-0-repair_estimate": "1200.00",
            "summary": "Needs an electrician.",
        },
    )

    assert response.status_code == 302
    assert task_of(txn, "inspection").status == TaskStatus.REJECTED
    report = VerificationReport.objects.get(task=task)
    assert report.payload["findings"] == [
        {
            "area": "Electrical",
            "description": "Double-tapped breaker",
            "severity": "safety",
            "repair_estimate": "1200.00",
        }
    ]
    assert "Safety finding in Electrical: Double-tapped breaker" in _text(client.get(url))
    assert EscrowTransaction.objects.get(pk=txn.pk).status == "needs_decision"


def test_a_form_with_a_missing_field_names_it_and_keeps_what_was_typed(world, client):
    txn = fund(world, make_escrow(world))
    task = task_of(txn, "inspection")
    client.force_login(world.inspector_user)

    response = client.post(
        f"/verifier/tasks/{task.public_id}/act/",
        {"action": "form", "inspector_license": "HI-12345", "summary": "Fine."},
    )

    assert response.status_code == 422
    assert "inspected_on" in _text(response)
    assert 'value="HI-12345"' in response.content.decode()
    assert not VerificationReport.objects.filter(task=task).exists()
