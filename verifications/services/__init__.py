"""Every write to verification workflows, tasks and reports, one module per business event.

Callers outside the app import from here; the names below are the app's service surface.
"""

from verifications.services.agent_callbacks import agent_for_webhook, task_status_update
from verifications.services.assignment import task_execute, task_reassign
from verifications.services.deadlines import tasks_escalate_overdue
from verifications.services.decisions import task_fail, task_waive
from verifications.services.reports import report_submit, sandbox_report_deliver
from verifications.services.sweep import TASK_SWEEP_AFTER, tasks_sweep
from verifications.services.workflows import workflow_advance, workflow_cancel, workflow_context_update, workflow_create

__all__ = [
    "TASK_SWEEP_AFTER",
    "agent_for_webhook",
    "report_submit",
    "sandbox_report_deliver",
    "task_execute",
    "task_fail",
    "task_reassign",
    "task_status_update",
    "task_waive",
    "tasks_escalate_overdue",
    "tasks_sweep",
    "workflow_advance",
    "workflow_cancel",
    "workflow_context_update",
    "workflow_create",
]
