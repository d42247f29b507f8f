"""The integration guide cannot rot: every code block in docs/integration runs, in order, against a live server.

Python blocks of a page share one namespace (as a reader's session would); upper-case string
variables they set (`API_KEY`) are exported to the page's later shell blocks. A block marked
`no-run` is shown, not run; any other language is refused, so nothing is skipped silently.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from endorsements import demo as endorsements_demo
from identity import demo as identity_demo
from ledger import demo as ledger_demo

GUIDE = Path(django_settings.BASE_DIR) / "docs" / "integration"
PAGES = sorted(GUIDE.glob("*.md"))
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SHOWN_ONLY = {"json", "text", "http", ""}

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def code_blocks(page: Path) -> list[tuple[str, str, str]]:
    return [(lang, info.strip(), code) for lang, info, code in FENCE.findall(page.read_text())]


@pytest.fixture
def guide_server(live_server: Any, settings: Any) -> Any:
    from escrow_project.celery import app as celery_app

    settings.NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE = True
    # The demo people, organizations and the employer's policy the guide names; not the demo
    # escrows (the escrow page opens its own), which take most of seed_demo's time.
    from verifications import demo as verifications_demo  # the sandbox agents, on the escrow page

    for demo in (identity_demo, ledger_demo, verifications_demo, endorsements_demo):
        demo.seed()
    # From here the live server's own thread runs the tasks a worker would (eager), so events and
    # batches complete as they do on `make run`, where the worker runs them.
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield str(live_server.url)
    celery_app.conf.task_always_eager = eager


def test_the_guide_has_pages_with_runnable_blocks() -> None:
    names = {page.name for page in PAGES}
    assert {"README.md", "authentication.md", "conventions.md", "webhooks.md", "endorsements.md", "escrow.md"} <= names
    for page in PAGES:
        for lang, _info, _ in code_blocks(page):
            assert lang in {"python", "bash"} | SHOWN_ONLY, f"{page.name}: a ```{lang} block cannot be run"


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_block_of_the_page_runs(page: Path, guide_server: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("BASE_URL", guide_server)
    env = dict(os.environ)
    namespace: dict[str, Any] = {"__name__": f"guide_{page.stem}"}
    ran = 0
    for number, (lang, info, code) in enumerate(code_blocks(page), start=1):
        if "no-run" in info.split() or lang in SHOWN_ONLY:
            continue
        where = f"{page.name} block {number}"
        if lang == "python":
            exec(compile(code, where, "exec"), namespace)
            env.update({k: v for k, v in namespace.items() if k.isupper() and isinstance(v, str)})
        else:
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", code],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, f"{where} failed:\n{done.stdout}\n{done.stderr}"
            assert done.stdout.strip(), f"{where} printed nothing"
        ran += 1
    assert ran, f"{page.name} has no runnable block"
