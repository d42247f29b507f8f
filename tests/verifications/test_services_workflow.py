"""The verification DAG: who starts when, reports, repeats, rejections, waivers, escalation."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from escrow_project.common.errors import ConflictError, InvalidTransitionError, NotFoundError
from identity.models import OrganizationKind
from tests.factories import OrganizationFactory, fanouts_expand, member
from verifications import services, signals
from verifications.agents.base import TransientAgentError
from verifications.agents.registry import provider_for
from verifications.models import AgentProfile, ReportSource, SandboxOutcome, VerificationReport, VerificationTask
from verifications.states import TaskStatus, WorkflowStatus

CONTEXT = {"purchase_price": "400000.00", "loan_amount": "300000.00", "currency": "USD"}


@pytest.fixture
def agents(db):
    found = {}
    for kind, org_kind in [
        ("title", OrganizationKind.TITLE_COMPANY),
        ("inspection", OrganizationKind.INSPECTION_FIRM),
        ("appraisal", OrganizationKind.APPRAISER),
        ("lending", OrganizationKind.LENDER),
    ]:
        org = OrganizationFactory.create(kind=org_kind)
        AgentProfile.objects.create(organization=org, verification_type=kind, sandbox_delay_seconds=0)
        found[kind] = org
    return found


@pytest.fixture
def received():
    """Every upward signal, in order."""
    log: list[tuple[str, dict]] = []

    def on_decided(sender, **kw):
        log.append(("decided", kw))

    def on_passed(sender, **kw):
        log.append(("passed", kw))

    def on_overdue(sender, **kw):
        log.append(("overdue", kw))

    signals.verification_decided.connect(on_decided, weak=False, dispatch_uid="t1")
    signals.workflow_passed.connect(on_passed, weak=False, dispatch_uid="t2")
    signals.verification_overdue.connect(on_overdue, weak=False, dispatch_uid="t3")
    yield log
    signals.verification_decided.disconnect(dispatch_uid="t1")
    signals.workflow_passed.disconnect(dispatch_uid="t2")
    signals.verification_overdue.disconnect(dispatch_uid="t3")


def _workflow(agents):
    workflow = services.workflow_create(subject_type="test_subject", subject_id="42", context=CONTEXT, agents=agents)
    services.workflow_advance(workflow_id=workflow.pk)
    return workflow


def _status(workflow):
    return dict(VerificationTask.objects.filter(workflow=workflow).values_list("verification_type", "status"))


def _submit(workflow, kind, *, passing=True, payload=None):
    task = VerificationTask.objects.get(workflow=workflow, verification_type=kind)
    payload = payload or provider_for(kind).sandbox_report(context=CONTEXT, passing=passing, rng=random.Random(7))
    return services.report_submit(task_id=task.pk, payload=payload, source=ReportSource.API)


def test_title_and_inspection_start_in_parallel_the_rest_wait(agents):
    workflow = _workflow(agents)

    assert _status(workflow) == {
        "title": "assigned",
        "inspection": "assigned",
        "appraisal": "pending",
        "lending": "pending",
    }
    task = VerificationTask.objects.get(workflow=workflow, verification_type="title")
    assert task.deadline is not None
    assert task.deadline > timezone.now() + timedelta(hours=71)


def test_appraisal_starts_only_after_inspection_and_lending_after_title_and_appraisal(agents, received):
    workflow = _workflow(agents)

    _submit(workflow, "title")
    assert _status(workflow)["appraisal"] == "pending"
    _submit(workflow, "inspection")
    assert _status(workflow)["appraisal"] == "assigned"
    assert _status(workflow)["lending"] == "pending"
    _submit(workflow, "appraisal")
    assert _status(workflow)["lending"] == "assigned"
    _submit(workflow, "lending")

    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.PASSED
    assert [name for name, _ in received] == ["decided"] * 4 + ["passed"]
    assert [kw["verification_type"] for name, kw in received if name == "decided"] == [
        "title",
        "inspection",
        "appraisal",
        "lending",
    ]


def test_a_report_before_dependencies_are_met_is_refused_and_nothing_recorded(agents, received):
    workflow = _workflow(agents)

    with pytest.raises(ConflictError) as caught:
        _submit(workflow, "appraisal")

    assert caught.value.code == "dependencies_not_met"
    assert VerificationReport.objects.count() == 0
    assert _status(workflow)["appraisal"] == "pending"
    assert received == []


def test_a_repeated_report_is_a_no_op_and_a_different_second_report_is_refused(agents, received):
    workflow = _workflow(agents)
    first = _submit(workflow, "title")

    again = _submit(workflow, "title", payload=first.payload)
    with pytest.raises(ConflictError) as caught:
        _submit(workflow, "title", passing=False)

    assert again.pk == first.pk
    assert caught.value.code == "report_already_submitted"
    assert VerificationReport.objects.count() == 1
    assert len(received) == 1


def test_a_report_from_another_agent_is_not_found(agents):
    workflow = _workflow(agents)
    task = VerificationTask.objects.get(workflow=workflow, verification_type="title")
    payload = provider_for("title").sandbox_report(context=CONTEXT, passing=True, rng=random.Random(1))

    with pytest.raises(NotFoundError):
        services.report_submit(
            task_id=task.pk, payload=payload, source=ReportSource.API, agent_organization_id=agents["appraisal"].pk
        )

    assert VerificationReport.objects.count() == 0


def test_a_rejection_blocks_the_workflow_until_waived(agents, received):
    workflow = _workflow(agents)
    _submit(workflow, "inspection", passing=False)

    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.BLOCKED
    assert received[-1][1]["outcome"] == "rejected"
    assert _status(workflow)["appraisal"] == "pending"

    services.task_waive(task_id=VerificationTask.objects.get(workflow=workflow, verification_type="inspection").pk)

    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.RUNNING
    assert _status(workflow)["inspection"] == "verified"
    assert _status(workflow)["appraisal"] == "assigned"


def test_a_verified_task_cannot_be_waived_and_the_reason_is_readable(agents):
    workflow = _workflow(agents)
    _submit(workflow, "title")
    task = VerificationTask.objects.get(workflow=workflow, verification_type="title")

    with pytest.raises(InvalidTransitionError) as caught:
        services.task_waive(task_id=task.pk)

    assert "Cannot waive" in caught.value.detail


def test_overdue_tasks_escalate_to_the_officer_then_the_operator(agents, received, settings):
    workflow = _workflow(agents)
    later = timezone.now() + timedelta(hours=73)

    assert services.tasks_escalate_overdue(now=later) == 2
    assert _status(workflow)["title"] == TaskStatus.OVERDUE
    assert {kw["level"] for name, kw in received if name == "overdue"} == {1}
    assert services.tasks_escalate_overdue(now=later) == 0  # once per level
    assert (
        services.tasks_escalate_overdue(now=later + timedelta(hours=settings.VERIFICATION_ESCALATION_GRACE_HOURS + 1))
        == 2
    )
    assert [kw["level"] for name, kw in received if name == "overdue"] == [1, 1, 2, 2]


def test_an_overdue_task_can_be_reassigned_to_another_agent(agents):
    workflow = _workflow(agents)
    services.tasks_escalate_overdue(now=timezone.now() + timedelta(hours=73))
    other = OrganizationFactory.create(kind=OrganizationKind.TITLE_COMPANY)
    AgentProfile.objects.create(organization=other, verification_type="title")
    task = VerificationTask.objects.get(workflow=workflow, verification_type="title")

    services.task_reassign(task_id=task.pk, agent=other)

    task = VerificationTask.objects.get(pk=task.pk)
    assert (task.status, task.agent_id, task.attempt, task.escalation_level) == ("assigned", other.pk, 2, 0)


def test_a_flaky_sandbox_agent_fails_transiently_then_delivers(agents):
    AgentProfile.objects.filter(verification_type="title").update(sandbox_outcome=SandboxOutcome.FLAKY)
    workflow = _workflow(agents)
    task = VerificationTask.objects.get(workflow=workflow, verification_type="title")
    services.task_execute(task_id=task.pk)

    with pytest.raises(TransientAgentError):
        services.sandbox_report_deliver(task_id=task.pk, attempt=1)
    assert services.sandbox_report_deliver(task_id=task.pk, attempt=1) == "delivered"

    task = VerificationTask.objects.get(pk=task.pk)
    assert (task.status, task.execution_attempts) == ("verified", 2)


def test_a_sandbox_agent_configured_to_fail_fails_the_task(agents, received):
    AgentProfile.objects.filter(verification_type="inspection").update(sandbox_outcome=SandboxOutcome.FAIL)
    workflow = _workflow(agents)
    task = VerificationTask.objects.get(workflow=workflow, verification_type="inspection")
    services.task_execute(task_id=task.pk)

    assert services.sandbox_report_deliver(task_id=task.pk, attempt=1) == "failed"

    task = VerificationTask.objects.get(pk=task.pk)
    assert task.status == "failed"
    assert received[-1][1]["outcome"] == "failed"


def _overdue_past_operator(settings, agents):
    """A workflow whose title task went overdue and reached the operator; returns (workflow, time then)."""
    workflow = _workflow(agents)
    later = timezone.now() + timedelta(hours=73)
    services.tasks_escalate_overdue(now=later)
    later += timedelta(hours=settings.VERIFICATION_ESCALATION_GRACE_HOURS + 1)
    services.tasks_escalate_overdue(now=later)
    return workflow, later


def test_an_overdue_task_goes_to_the_least_busy_other_agent_after_the_operator_grace(agents, received, settings):
    from audit.models import AuditEvent
    from notifications.models import Notification

    busy = OrganizationFactory.create(kind=OrganizationKind.TITLE_COMPANY)
    idle = OrganizationFactory.create(kind=OrganizationKind.TITLE_COMPANY)
    AgentProfile.objects.create(organization=busy, verification_type="title")
    AgentProfile.objects.create(organization=idle, verification_type="title")
    member("verifier", idle)  # someone to tell
    workflow, later = _overdue_past_operator(settings, agents)
    task = VerificationTask.objects.get(workflow=workflow, verification_type="title")
    assert task.escalation_level == 2

    # Not yet: the grace after the operator alert has not passed.
    assert services.tasks_escalate_overdue(now=later + timedelta(hours=1)) == 0
    assert VerificationTask.objects.get(pk=task.pk).agent_id == agents["title"].pk
    other = services.workflow_create(
        subject_type="test_subject", subject_id="43", context=CONTEXT, agents={**agents, "title": busy}
    )
    services.workflow_advance(workflow_id=other.pk)  # busy now holds one open task, idle none

    settings.VERIFICATION_AUTO_REASSIGN_AFTER_HOURS = 24
    reassigned = services.tasks_escalate_overdue(now=later + timedelta(hours=25))

    task = VerificationTask.objects.get(pk=task.pk)
    assert reassigned >= 1
    assert (task.status, task.agent_id, task.attempt, task.escalation_level) == ("assigned", idle.pk, 2, 0)
    assert task.deadline is not None
    assert task.deadline > timezone.now() + timedelta(hours=71)  # a fresh deadline
    assert ("overdue", 3) in {(name, kw["level"]) for name, kw in received if kw.get("task_id") == task.pk}
    event = AuditEvent.objects.get(kind="verification.auto_reassigned", subject_id="42")
    assert event.payload["previous_agent"] == str(agents["title"].public_id)
    assert event.payload["agent"] == str(idle.public_id)
    fanouts_expand()
    assert Notification.objects.filter(kind="verification_assigned", recipient_organization=idle).exists()


def test_with_no_other_agent_an_overdue_task_stays_with_the_operator(agents, received, settings):
    from audit.models import AuditEvent

    workflow, later = _overdue_past_operator(settings, agents)
    task = VerificationTask.objects.get(workflow=workflow, verification_type="title")

    assert services.tasks_escalate_overdue(now=later + timedelta(hours=25)) == 0

    task = VerificationTask.objects.get(pk=task.pk)
    assert (task.status, task.agent_id, task.attempt, task.escalation_level) == ("overdue", agents["title"].pk, 1, 3)
    assert AuditEvent.objects.filter(kind="verification.reassign_unavailable", subject_id="42").count() == 2
    assert 3 not in {kw["level"] for name, kw in received if name == "overdue"}
    services.tasks_escalate_overdue(now=later + timedelta(hours=50))  # the policy ran once; no repeat
    assert AuditEvent.objects.filter(kind="verification.reassign_unavailable", subject_id="42").count() == 2


def test_automatic_reassignment_can_be_turned_off(agents, settings):
    other = OrganizationFactory.create(kind=OrganizationKind.TITLE_COMPANY)
    AgentProfile.objects.create(organization=other, verification_type="title")
    settings.VERIFICATION_AUTO_REASSIGN_AFTER_HOURS = 0
    workflow, later = _overdue_past_operator(settings, agents)

    services.tasks_escalate_overdue(now=later + timedelta(days=30))

    task = VerificationTask.objects.get(workflow=workflow, verification_type="title")
    assert (task.status, task.agent_id, task.escalation_level) == ("overdue", agents["title"].pk, 2)
