from django.apps import AppConfig
from django.conf import settings


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self) -> None:
        from audit import audit_kinds
        from audit.handlers import (
            on_api_key_issued,
            on_api_key_revoked,
            on_console_action_performed,
            on_membership_granted,
            on_membership_revoked,
            on_personal_value_revealed,
        )
        from audit.keys import refuse_unsafe_production_keys
        from audit.kinds import audit_kinds_register, audit_kinds_source_register
        from escrow_project.common.signals import console_action_performed, personal_value_revealed
        from identity.signals import api_key_issued, api_key_revoked, membership_granted, membership_revoked

        # Here rather than in the settings module: IS_PRODUCTION is only known once the production
        # settings have finished loading, and every process (web, ASGI, Celery) runs ready().
        refuse_unsafe_production_keys(settings)
        audit_kinds_register("audit", audit_kinds.AUDIT_KINDS)
        audit_kinds_source_register("audit", audit_kinds.console_action_kinds)
        personal_value_revealed.connect(on_personal_value_revealed, dispatch_uid="audit.personal_value_revealed")
        membership_granted.connect(on_membership_granted, dispatch_uid="audit.membership_granted")
        membership_revoked.connect(on_membership_revoked, dispatch_uid="audit.membership_revoked")
        api_key_issued.connect(on_api_key_issued, dispatch_uid="audit.api_key_issued")
        api_key_revoked.connect(on_api_key_revoked, dispatch_uid="audit.api_key_revoked")
        console_action_performed.connect(on_console_action_performed, dispatch_uid="audit.console_action_performed")
