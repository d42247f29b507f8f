#!/usr/bin/env bash
# Static gates, the same locally and in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
export DJANGO_SETTINGS_MODULE=escrow_project.settings.test

echo "== ruff check";            "$BIN/ruff" check .
echo "== ruff format --check";   "$BIN/ruff" format --check .
echo "== import-linter";         "$BIN/lint-imports"
echo "== makemigrations --check"; "$BIN/python" manage.py makemigrations --check --dry-run
echo "== mypy";                  "$BIN/mypy" .
