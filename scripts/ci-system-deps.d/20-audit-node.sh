#!/usr/bin/env bash
# The audit app's npm tools: solc-js (recompiles AuditAnchor.sol to check the committed bytecode)
# and ganache (the real JSON-RPC node of the anchoring test). Both pinned in
# audit/contracts/package-lock.json. Idempotent: skips when node_modules matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../../audit/contracts"
if ! command -v npm >/dev/null 2>&1; then
    echo "audit: npm not found; the solc and ganache tests will skip (they need Node 20)." >&2
    exit 0
fi
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json .installed-lock 2>/dev/null; then
    echo "audit: npm packages already installed"
    exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts
cp package-lock.json .installed-lock
