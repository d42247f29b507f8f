#!/usr/bin/env bash
# localstripe: a Stripe-compatible server the payment tests run as a separate local process
# (PaymentIntents, refunds, signed webhooks). Its own virtualenv, because its aiohttp pins must not
# touch the platform's. Idempotent: skips when the pinned version is already installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=1.15.10
VENV=var/localstripe-venv
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ -x "$VENV/bin/localstripe" ] && "$VENV/bin/pip" show localstripe 2>/dev/null | grep -q "^Version: $VERSION$"; then
    echo "localstripe $VERSION already installed"
    exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet "localstripe==$VERSION"
echo "localstripe $VERSION installed in $VENV"
