#!/usr/bin/env bash
# cargo-deny, from the per-machine tool cache (scripts/tools.sh: installed there on first use, pinned version).
#   scripts/deny.sh                 licenses, bans, sources (what `make lint` and CI check)
#   scripts/deny.sh advisories      the RustSec advisories (needs the advisory database's git host; `make audit`)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"
deny="$(cargo_tool cargo-deny "$CARGO_DENY_VERSION" cargo-deny)"
cd "$root"
if [ "${1:-}" = advisories ]; then
  exec "$deny" --log-level error check advisories
fi
exec "$deny" --log-level error check licenses bans sources
