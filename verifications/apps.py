from typing import Any

from django.apps import AppConfig


class VerificationsConfig(AppConfig):
    name = "verifications"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from audit.kinds import audit_kinds_register
        from verifications import audit_kinds, selectors
        from verifications.models import AgentProfile, VerificationReport, VerificationTask

        def report_written(sender: Any, instance: VerificationReport, **kw: Any) -> None:
            selectors.report_cache_invalidate(task_id=instance.task_id)

        def task_created(sender: Any, instance: VerificationTask, created: bool = False, **kw: Any) -> None:
            if created:  # a reused id (a restored or flushed database) must not find an old report
                selectors.report_cache_invalidate(task_id=instance.pk)

        def profile_written(sender: Any, instance: AgentProfile, **kw: Any) -> None:
            selectors.agent_cache_invalidate(
                organization_id=instance.organization_id, verification_type=instance.verification_type
            )

        post_save.connect(task_created, sender=VerificationTask, dispatch_uid="report_cache_task", weak=False)
        for name, signal in (("save", post_save), ("delete", post_delete)):
            signal.connect(report_written, sender=VerificationReport, dispatch_uid=f"report_cache_{name}", weak=False)
            signal.connect(profile_written, sender=AgentProfile, dispatch_uid=f"agent_cache_{name}", weak=False)
        audit_kinds_register("verifications", audit_kinds.AUDIT_KINDS)
