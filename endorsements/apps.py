from django.apps import AppConfig


class EndorsementsConfig(AppConfig):
    name = "endorsements"
    verbose_name = "Endorsements (group insurance)"

    def ready(self) -> None:
        from audit.kinds import audit_kinds_register
        from endorsements import access, audit_kinds, handlers  # noqa: F401 - connects the signal receivers

        access.register()
        audit_kinds_register("endorsements", audit_kinds.AUDIT_KINDS)
