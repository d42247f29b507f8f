from django.apps import AppConfig
from django.conf import settings


class CommonConfig(AppConfig):
    name = "escrow_project.common"
    label = "common"
    verbose_name = "Platform kernel"

    def ready(self) -> None:
        from escrow_project.common import checks  # noqa: F401 - registers the system checks
        from escrow_project.common.admin import console_site_setup
        from escrow_project.common.crypto.keys import key_provider

        # After django.contrib.admin's autodiscover (this app comes later in INSTALLED_APPS).
        console_site_setup()

        if getattr(settings, "IS_PRODUCTION", False):
            # ASGI servers run no system checks: build the keys now, so a production process
            # without them refuses to start instead of failing on the first personal field.
            key_provider()
