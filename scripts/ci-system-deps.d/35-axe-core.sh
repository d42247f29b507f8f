#!/usr/bin/env bash
# axe-core for the party pages' accessibility check (tests/browser/test_party_journeys.py injects
# axe.min.js into each page). Pinned in tests/browser/axe/package-lock.json; node_modules is
# gitignored. Idempotent: skips when node_modules matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../../tests/browser/axe"
if ! command -v npm >/dev/null 2>&1; then
    echo "axe-core: npm not found; the accessibility checks will skip (they need Node)." >&2
    exit 0
fi
if [ -f node_modules/axe-core/axe.min.js ] && cmp -s package-lock.json .installed-lock 2>/dev/null; then
    echo "axe-core: already installed"
    exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts
cp package-lock.json .installed-lock
