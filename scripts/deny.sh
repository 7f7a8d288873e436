#!/usr/bin/env bash
# cargo-deny, installed under target/tools on first use (no hand-installed tools).
#   scripts/deny.sh                 licenses, bans, sources (what `make lint` and CI check)
#   scripts/deny.sh advisories      the RustSec advisories (needs the advisory database's git host; `make audit`)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deny="$root/target/tools/bin/cargo-deny"
if [ ! -x "$deny" ]; then
  echo "deny: installing cargo-deny into target/tools (once)" >&2
  cargo install --quiet --root "$root/target/tools" cargo-deny --version '^0.20' --locked >&2
fi
cd "$root"
if [ "${1:-}" = advisories ]; then
  exec "$deny" --log-level error check advisories
fi
exec "$deny" --log-level error check licenses bans sources
