"""Upward news from verifications. Sent inside the sender's database transaction.

Every signal carries: task_id, workflow_id, subject_type, subject_id, verification_type.
"""

from django.dispatch import Signal

# outcome: "verified" | "rejected" | "failed"
verification_decided = Signal()
# all tasks of the workflow are verified
workflow_passed = Signal()
# level: 1 (tell the escrow officer), 2 (tell the operator) or 3 (it was reassigned to another agent)
verification_overdue = Signal()
