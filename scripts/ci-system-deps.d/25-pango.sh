#!/usr/bin/env bash
# Pango and its FreeType backend for WeasyPrint (the settlement statement PDF).
set -euo pipefail
if ldconfig -p | grep -q libpangoft2-1.0.so.0; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core >/dev/null
