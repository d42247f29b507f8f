"""Verification tests share the escrow world and the after-every-test ledger invariant check."""

from tests.transactions.conftest import _ledger_invariants_hold, world  # noqa: F401 - pytest fixtures
