"""Fault-injection suite: `python -m escrow_project.faults` (docs/faults.md).

`__main__` runs its own PostgreSQL cluster and Redis, the platform under the supervisor, a workload
of idempotent retrying clients, and the faults; `inside` holds the steps that run in a Django
process against that cluster (setup, payouts, the final check).
"""
