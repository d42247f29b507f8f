"""Agent work whose message was lost is handed to a worker again and finishes; nothing else is touched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from identity.models import OrganizationKind
from tests.factories import OrganizationFactory
from verifications import services
from verifications.models import AgentProfile, ProviderKind, VerificationReport, VerificationTask
from verifications.states import TaskStatus, WorkflowStatus

pytestmark = pytest.mark.django_db

CONTEXT = {"purchase_price": "400000.00", "loan_amount": "300000.00", "currency": "USD"}
KINDS = [
    ("title", OrganizationKind.TITLE_COMPANY),
    ("inspection", OrganizationKind.INSPECTION_FIRM),
    ("appraisal", OrganizationKind.APPRAISER),
    ("lending", OrganizationKind.LENDER),
]


def _agents(provider=ProviderKind.SANDBOX):
    found = {}
    for kind, org_kind in KINDS:
        org = OrganizationFactory.create(kind=org_kind)
        AgentProfile.objects.create(
            organization=org, verification_type=kind, sandbox_delay_seconds=3, provider=provider
        )
        found[kind] = org
    return found


def _started_workflow(subject_id, agents):
    """Title and inspection assigned; their task_execute messages are never run (lost with the broker)."""
    workflow = services.workflow_create(
        subject_type="test_subject", subject_id=subject_id, context=CONTEXT, agents=agents
    )
    services.workflow_advance(workflow_id=workflow.pk)
    return workflow


def _age(workflow, **fields):
    VerificationTask.objects.filter(workflow=workflow).update(**fields)


def _statuses(workflow):
    return dict(VerificationTask.objects.filter(workflow=workflow).values_list("verification_type", "status"))


def test_lost_work_is_sent_again_and_the_workflow_finishes(django_capture_on_commit_callbacks, eager_worker):
    workflow = _started_workflow("lost", _agents())
    _age(workflow, assigned_at=timezone.now() - timedelta(minutes=5))

    for _ in range(4):  # each sweep finds the tasks the previous round's reports started
        with django_capture_on_commit_callbacks(execute=True):
            services.tasks_sweep(now=timezone.now() + timedelta(minutes=5))

    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.PASSED
    assert set(_statuses(workflow).values()) == {TaskStatus.VERIFIED}
    assert VerificationReport.objects.filter(task__workflow=workflow).count() == 4  # one each, never two


def test_a_started_task_whose_report_was_lost_gets_its_report_once(django_capture_on_commit_callbacks, eager_worker):
    workflow = _started_workflow("unanswered", _agents())
    title = VerificationTask.objects.get(workflow=workflow, verification_type="title")
    services.task_execute(task_id=title.pk)  # started; its delayed report message is then lost
    long_ago = timezone.now() - timedelta(minutes=10)
    VerificationTask.objects.filter(pk=title.pk).update(started_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        swept = services.tasks_sweep(now=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        services.tasks_sweep(now=timezone.now())  # a second sweep has nothing left to do for title

    assert title.pk in swept
    assert _statuses(workflow)["title"] == TaskStatus.VERIFIED
    assert VerificationReport.objects.filter(task=title).count() == 1


def test_fresh_partner_and_cancelled_work_is_left_alone(django_capture_on_commit_callbacks):
    fresh = _started_workflow("fresh", _agents())
    partner = _started_workflow("partner", _agents(provider=ProviderKind.PARTNER))
    cancelled = _started_workflow("cancelled", _agents())
    services.workflow_cancel(workflow_id=cancelled.pk)
    _age(partner, assigned_at=timezone.now() - timedelta(hours=1))
    _age(cancelled, assigned_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=False) as handed_over:
        swept = services.tasks_sweep(now=timezone.now())

    assert swept == []
    assert handed_over == []
    assert _statuses(fresh) == {
        "title": "assigned",
        "inspection": "assigned",
        "appraisal": "pending",
        "lending": "pending",
    }
