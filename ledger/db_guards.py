"""Database-side guards installed by migration 0001 (kept here so the SQL is reviewed as code).

PostgreSQL: CHECK constraints on the account counters (never negative; a guarded account never
overdrawn, pending debits counted); a statement-level trigger re-checks after every INSERT of
journal lines that each entry it touched is balanced per currency (debits = credits, at least two
lines); triggers reject UPDATE and DELETE of journal entries and lines (append-only; TRUNCATE,
used only by test teardown, stays possible).

The balance check was a deferred row trigger until 2026-11-24: two queries per line at COMMIT,
run while the transaction still held its account locks (a 500-posting batch: 2,000 queries, and
the benchmark showed intake queueing on those locks). Every posting writes all lines of an entry
in one INSERT (`services/_core`), so one check per statement over the entries it touched is the
same guarantee: a later INSERT adding a line to an existing entry is checked with all its lines.

SQLite (embedded default): UPDATE is rejected; the balance check stays in Python.
"""

from __future__ import annotations

from typing import Any

# LATERAL, one index probe per entry the statement touched: with `entry_id IN (SELECT ... FROM
# new_lines)` the planner merge-joined against the whole entry_id index (the transition table has
# no statistics), a cost that grew with the journal.
BALANCE_CHECK = """
CREATE OR REPLACE FUNCTION ledger_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  SELECT e.entry_id, b.currency, b.debits, b.credits, b.entry_lines INTO bad
    FROM (SELECT DISTINCT entry_id FROM new_lines) AS e
    CROSS JOIN LATERAL (
      SELECT currency,
             SUM(CASE WHEN side = 'debit' THEN amount ELSE 0 END) AS debits,
             SUM(CASE WHEN side = 'credit' THEN amount ELSE 0 END) AS credits,
             SUM(count(*)) OVER () AS entry_lines
        FROM ledger_journalline AS l WHERE l.entry_id = e.entry_id
        GROUP BY currency
    ) AS b
    WHERE b.entry_lines < 2 OR b.debits <> b.credits
    LIMIT 1;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF bad.entry_lines < 2 THEN
    RAISE EXCEPTION 'ledger: journal entry % has % line(s); an entry needs a debit and a credit',
      bad.entry_id, bad.entry_lines USING ERRCODE = '23514';
  END IF;
  RAISE EXCEPTION 'ledger: journal entry % is unbalanced in %: debits % <> credits %',
    bad.entry_id, bad.currency, bad.debits, bad.credits USING ERRCODE = '23514';
END $$;

DROP TRIGGER IF EXISTS ledger_journalline_balanced ON ledger_journalline;
DROP FUNCTION IF EXISTS ledger_entry_balanced();
CREATE TRIGGER ledger_journalline_balanced
  AFTER INSERT ON ledger_journalline REFERENCING NEW TABLE AS new_lines
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_balanced();
"""

POSTGRES_FORWARD = (
    """
-- Backstop of the Python guard: the database refuses an overdraft even if a bug skipped the check.
ALTER TABLE ledger_account
  ADD CONSTRAINT ledger_account_counters_non_negative
    CHECK (posted_debits >= 0 AND posted_credits >= 0 AND pending_debits >= 0 AND pending_credits >= 0),
  ADD CONSTRAINT ledger_account_debits_within_credits
    CHECK (NOT debits_must_not_exceed_credits OR posted_debits + pending_debits <= posted_credits),
  ADD CONSTRAINT ledger_account_credits_within_debits
    CHECK (NOT credits_must_not_exceed_debits OR posted_credits + pending_credits <= posted_debits);

CREATE OR REPLACE FUNCTION ledger_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger: % rows are immutable; post a reversing entry instead', TG_TABLE_NAME
    USING ERRCODE = '55000';
END $$;

CREATE TRIGGER ledger_journalentry_immutable BEFORE UPDATE OR DELETE ON ledger_journalentry
  FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_journalline_immutable BEFORE UPDATE OR DELETE ON ledger_journalline
  FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
"""
    + BALANCE_CHECK
)

POSTGRES_BACKWARD = """
ALTER TABLE ledger_account
  DROP CONSTRAINT IF EXISTS ledger_account_counters_non_negative,
  DROP CONSTRAINT IF EXISTS ledger_account_debits_within_credits,
  DROP CONSTRAINT IF EXISTS ledger_account_credits_within_debits;
DROP TRIGGER IF EXISTS ledger_journalline_immutable ON ledger_journalline;
DROP TRIGGER IF EXISTS ledger_journalentry_immutable ON ledger_journalentry;
DROP TRIGGER IF EXISTS ledger_journalline_balanced ON ledger_journalline;
DROP FUNCTION IF EXISTS ledger_reject_change();
DROP FUNCTION IF EXISTS ledger_entries_balanced();
DROP FUNCTION IF EXISTS ledger_entry_balanced();
"""

SQLITE_FORWARD = [
    "CREATE TRIGGER IF NOT EXISTS ledger_journalentry_immutable BEFORE UPDATE ON ledger_journalentry "
    "BEGIN SELECT RAISE(ABORT, 'ledger: journal entries are immutable'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_journalline_immutable BEFORE UPDATE ON ledger_journalline "
    "BEGIN SELECT RAISE(ABORT, 'ledger: journal lines are immutable'); END",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS ledger_journalentry_immutable",
    "DROP TRIGGER IF EXISTS ledger_journalline_immutable",
]


def install(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def uninstall(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


def sqlite_reinstall(apps: Any, schema_editor: Any) -> None:
    """SQLite rebuilds a table to alter it, dropping its triggers: migrations that alter journal tables
    call this afterwards (PostgreSQL keeps them)."""
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def install_balance_check(apps: Any, schema_editor: Any) -> None:
    """Migration 0003: the statement-level balance check replaces the deferred row trigger."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BALANCE_CHECK, params=None)
