from django.apps import AppConfig


class EndorsementsConfig(AppConfig):
    name = "endorsements"
    verbose_name = "Endorsements (group insurance)"

    def ready(self) -> None:
        from endorsements import access, handlers  # noqa: F401 - connects the signal receivers

        access.register()
