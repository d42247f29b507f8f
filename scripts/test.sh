#!/usr/bin/env bash
# The whole test suite: static gates, then pytest. PostgreSQL and Redis when DATABASE_URL and
# REDIS_URL are set (CI sets them); otherwise SQLite, and the tests that need a real server skip.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
export DJANGO_SETTINGS_MODULE=escrow_project.settings.test

bash scripts/lint.sh
echo "== pytest"
"$BIN/pytest" -m "not browser" "$@"
echo "== pytest (browser: Chromium via Playwright, own invocation)"
DJANGO_ALLOW_ASYNC_UNSAFE=true "$BIN/pytest" -m browser tests/browser "$@"
echo "== fault suite (CI size: own PostgreSQL cluster and Redis, docs/faults.md)"
if compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null; then
  "$BIN/python" -m escrow_project.faults --seconds "${FAULTS_SECONDS:-45}"
else
  echo "fault suite skipped: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
fi
