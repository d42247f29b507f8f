from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "escrow_project.common"
    label = "common"
    verbose_name = "Platform kernel"
