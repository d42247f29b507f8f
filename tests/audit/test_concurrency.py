"""Several processes append to the same case while a sealer runs: the chain never forks, no leaf is lost."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap

import pytest
from django.conf import settings
from django.db import connection

from audit import merkle
from audit.models import AuditEvent, SubjectHead, TreeHead
from audit.services import tree_seal
from tests.conftest import requires_postgres

WRITER = textwrap.dedent(
    """
    import sys, django
    django.setup()
    from audit.services import event_record, tree_seal
    worker, n = int(sys.argv[1]), int(sys.argv[2])
    for i in range(n):
        event_record(kind="escrow.updated", subject_type="test_case", subject_id="shared", actor=f"system:w{worker}",
                     payload={"worker": worker, "i": i})
        event_record(kind="escrow.updated", subject_type="test_case", subject_id=f"own-{worker}", actor="system:w",
                     payload={"i": i})
        if worker == 0 and i % 25 == 0:
            tree_seal()
    """
)


@requires_postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_four_processes_append_while_sealing() -> None:
    db = connection.settings_dict
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="escrow_project.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(w), "100"], cwd=settings.BASE_DIR, env=env)
        for w in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    tree_seal()

    shared = list(AuditEvent.objects.filter(subject_id="shared").order_by("seq"))
    assert [e.seq for e in shared] == list(range(1, 401))
    assert all(b.prev_hash == a.event_hash for a, b in itertools.pairwise(shared))
    assert SubjectHead.objects.get(subject_id="shared").head_hash == shared[-1].event_hash

    leaves = list(AuditEvent.objects.order_by("leaf__leaf_index").values_list("leaf__leaf_index", "event_hash"))
    assert [i for i, _ in leaves] == list(range(800))
    head = TreeHead.objects.order_by("-tree_size").first()
    assert head is not None
    assert head.tree_size == 800
    assert head.root_hash == merkle.root_of([bytes.fromhex(h) for _, h in leaves]).hex()
