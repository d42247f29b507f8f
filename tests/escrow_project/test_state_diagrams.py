"""The committed lifecycle diagrams (docs/states/*.dot) are the ones the transitions draw."""

from __future__ import annotations

from django.core.management import call_command

from escrow_project.common.management.commands.state_diagrams import diagrams


def test_every_committed_state_diagram_matches_its_transitions():
    call_command("state_diagrams", "--check")  # raises CommandError naming any stale file


def test_the_endorsement_dispatch_diagram_draws_each_outcome_once_from_pending():
    assert diagrams()["dispatch"].splitlines()[3:-1] == [
        '  "pending" -> "acknowledged" [label="acknowledge"];',
        '  "pending" -> "dead_letter" [label="dead_letter"];',
        '  "pending" -> "invalid" [label="refuse"];',
    ]
