from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self) -> None:
        from audit.handlers import on_personal_value_revealed
        from escrow_project.common.signals import personal_value_revealed

        personal_value_revealed.connect(on_personal_value_revealed, dispatch_uid="audit.personal_value_revealed")
