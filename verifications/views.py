"""The verifier's inbox: the tasks assigned to their organizations, with deadlines, and the page to
start work, deliver a report or say the work cannot be done. Each step calls the same service the
agents' API calls, after the same check of who may report (verifications.selectors.task_reporter_for).
"""

from __future__ import annotations

import json
import random
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from escrow_project.common.display import format_day, format_money, format_when
from escrow_project.common.errors import DomainError, NotFoundError
from identity.selectors import organization_ids_for_user
from verifications import report_form, selectors, services
from verifications.agents.registry import provider_for
from verifications.models import ReportSource, VerificationTask
from verifications.states import OPEN_TASK_STATUSES, TaskStatus

LOGIN_URL = "/escrow/login/"

# Where a subject's own page lives: verifications cannot ask the apps above it, so it knows the path.
SUBJECT_PAGES = {"escrow_transaction": "/escrow/{subject_id}/"}

STATUS_TEXT: dict[str, str] = {
    TaskStatus.PENDING: "Waiting for earlier checks",
    TaskStatus.ASSIGNED: "New: not started",
    TaskStatus.IN_PROGRESS: "In progress",
    TaskStatus.SUBMITTED: "Report received, being checked",
    TaskStatus.VERIFIED: "Accepted",
    TaskStatus.REJECTED: "Report did not pass",
    TaskStatus.FAILED: "Could not be done",
    TaskStatus.OVERDUE: "Overdue",
}


def _mine(request: HttpRequest) -> Any:
    """The caller's own organizations' tasks (an operator's inbox is the console, not this page)."""
    return selectors.task_list_for_agent(user=request.user).filter(agent_id__in=organization_ids_for_user(request.user))


def _row(task: VerificationTask) -> dict[str, Any]:
    context = task.workflow.context or {}
    now = timezone.now()
    open_ = task.status in OPEN_TASK_STATUSES
    page = SUBJECT_PAGES.get(task.workflow.subject_type)
    return {
        "task": task,
        "name": task.get_verification_type_display(),
        "reference": context.get("reference", ""),
        "address": context.get("property_address", ""),
        "status": STATUS_TEXT.get(task.status, task.get_status_display()),
        "open": open_,
        "late": bool(open_ and task.deadline and task.deadline < now),
        "deadline": format_when(task.deadline) if task.deadline else "—",
        "deal_url": page.format(subject_id=task.workflow.subject_id) if page else "",
    }


@login_required(login_url=LOGIN_URL)
def inbox(request: HttpRequest) -> HttpResponse:
    tasks = list(_mine(request).exclude(status=TaskStatus.PENDING)[:200])
    rows = [_row(t) for t in tasks]
    # What needs doing first: open tasks by deadline, then the rest newest first.
    todo = sorted((r for r in rows if r["open"]), key=lambda r: (r["task"].deadline is None, r["task"].deadline))
    done = [r for r in rows if not r["open"]]
    waiting = _mine(request).filter(status=TaskStatus.PENDING).count()
    return render(request, "verifications/inbox.html", {"todo": todo, "done": done, "waiting": waiting})


def _task(request: HttpRequest, task_id: Any) -> VerificationTask:
    try:
        task = selectors.task_get_for_agent(user=request.user, public_id=task_id)
    except NotFoundError:
        raise Http404("No such verification task.") from None
    if task.agent_id not in organization_ids_for_user(request.user):
        raise Http404("No such verification task.")
    return task


def _example(task: VerificationTask) -> str:
    """The report format, as a filled-in example (never submitted for them)."""
    rng = random.Random(f"example:{task.verification_type}")  # noqa: S311 - an example, not security
    sample = provider_for(task.verification_type).sandbox_report(context=task.workflow.context, passing=True, rng=rng)
    return json.dumps(sample, indent=2)


def _detail(
    request: HttpRequest, task: VerificationTask, *, status: int = 200, report_text: str = "", posted: Any = None
) -> HttpResponse:
    context = task.workflow.context or {}
    report = selectors.task_latest_report(task=task)
    facts = [
        ("Property", context.get("property_address", "")),
        ("Deal", context.get("reference", "")),
        ("Closing", format_day(_date(context.get("closing_date")))),
    ]
    if context.get("purchase_price") and task.verification_type in ("appraisal", "lending", "inspection"):
        facts.append(("Purchase price", format_money(context["purchase_price"], context.get("currency", "USD"))))
    if context.get("loan_amount") and task.verification_type == "lending":
        facts.append(("Loan", format_money(context["loan_amount"], context.get("currency", "USD"))))
    return render(
        request,
        "verifications/task.html",
        {
            "row": _row(task),
            "facts": [(k, v) for k, v in facts if v],
            "report": report,
            "report_when": format_when(report.created_at) if report else "",
            "example": _example(task),
            "report_text": report_text,
            "form": report_form.form_for(task.verification_type, posted),
            "can_start": task.status == TaskStatus.ASSIGNED,
            "can_report": task.status in OPEN_TASK_STATUSES,
        },
        status=status,
    )


def _date(value: Any) -> Any:
    import datetime

    try:
        return datetime.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@login_required(login_url=LOGIN_URL)
def task_detail(request: HttpRequest, task_id: str) -> HttpResponse:
    return _detail(request, _task(request, task_id))


@require_POST
@login_required(login_url=LOGIN_URL)
def task_act(request: HttpRequest, task_id: str) -> HttpResponse:
    """Start work, deliver the report, or say the work cannot be done."""
    task = _task(request, task_id)
    action = request.POST.get("action", "")
    text = request.POST.get("report", "")
    try:
        agent = selectors.task_reporter_for(user=request.user, task=task)
        if action == "start":
            services.task_status_update(task_id=task.pk, status=TaskStatus.IN_PROGRESS, agent_organization_id=agent,
                                        actor=request.user)  # fmt: skip
            done = "Marked as in progress."
        elif action == "fail":
            services.task_status_update(task_id=task.pk, status=TaskStatus.FAILED, agent_organization_id=agent,
                                        actor=request.user, reason=request.POST.get("reason", "")[:300])  # fmt: skip
            done = "Recorded: the work cannot be done. The escrow officer is told."
        elif action == "form":
            payload = report_form.payload_from(task.verification_type, request.POST)
            report = services.report_submit(task_id=task.pk, payload=payload, source=ReportSource.API,
                                            agent_organization_id=agent, submitted_by=request.user)  # fmt: skip
            done = "Report delivered and accepted." if report.passed else "Report delivered; it did not pass the rules."
        elif action == "report":
            try:
                payload = json.loads(text)
            except ValueError:
                raise DomainError("The report is not valid JSON: compare it with the example.", code="invalid_report",
                                  status=422) from None  # fmt: skip
            report = services.report_submit(task_id=task.pk, payload=payload, source=ReportSource.API,
                                            agent_organization_id=agent, submitted_by=request.user)  # fmt: skip
            done = "Report delivered and accepted." if report.passed else "Report delivered; it did not pass the rules."
        else:
            raise DomainError("Choose one of the steps on the page.", code="malformed_request", status=422)
    except DomainError as exc:
        messages.error(request, exc.detail)
        for error in exc.errors or []:
            messages.error(request, f"{error.get('field', '')}: {error.get('message', '')}")
        fresh = VerificationTask.objects.get(pk=task.pk)
        return _detail(request, fresh, status=exc.status, report_text=text, posted=request.POST)
    messages.success(request, done)
    return redirect("verifier-task", task_id=task.public_id)
