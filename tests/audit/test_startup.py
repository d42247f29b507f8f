from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.conf import settings


def test_django_start_up_does_not_import_web3(tmp_path: Path) -> None:
    """web3 takes about a second to import; only anchoring code may pay for it, lazily."""
    code = (
        "import sys, django; django.setup();"
        "import escrow_project.urls, escrow_project.celery, audit.services, audit.selectors, audit.tasks, audit.admin;"
        "sys.exit(1 if 'web3' in sys.modules else 0)"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "escrow_project.settings.test",
        "VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
