"""Seed believable demo data. Each app may contribute a `demo.seed()`; they run bottom-up."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create demo organizations, users and (when their apps provide them) cases. Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        if getattr(settings, "IS_PRODUCTION", False):
            raise CommandError("seed_demo creates users with known passwords; it refuses to run in production.")
        for app_config in apps.get_app_configs():
            try:
                module = import_module(f"{app_config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app_config.name}.demo":
                    raise
                continue
            self.stdout.write(f"Seeding {app_config.label} ...")
            for line in module.seed():
                self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
