from django.apps import AppConfig
from django.conf import settings


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self) -> None:
        from audit.handlers import on_personal_value_revealed
        from audit.keys import refuse_unsafe_production_keys
        from escrow_project.common.signals import personal_value_revealed

        # Here rather than in the settings module: IS_PRODUCTION is only known once the production
        # settings have finished loading, and every process (web, ASGI, Celery) runs ready().
        refuse_unsafe_production_keys(settings)
        personal_value_revealed.connect(on_personal_value_revealed, dispatch_uid="audit.personal_value_revealed")
