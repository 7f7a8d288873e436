#!/usr/bin/env bash
# Layering is law: `domain` and `application` must not depend (normal dependencies, transitively) on diesel,
# r2d2, actix, utoipa, validator or a metrics library (business counters are recorded in the adapters, from the
# use cases' results). Fails listing the offending crates.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
status=0
for crate in domain application; do
  deps=$(cargo tree -p "$crate" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
  bad=$(grep -E '^(diesel|diesel_migrations|r2d2|actix|actix-.*|utoipa|utoipa-.*|validator|validator_derive|pq-sys|metrics|metrics-.*|prometheus)$' <<<"$deps" || true)
  if [ -n "$bad" ]; then
    echo "layering: $crate depends on: $(tr '\n' ' ' <<<"$bad")" >&2
    status=1
  else
    echo "layering: $crate is free of diesel, r2d2, actix, utoipa, validator and metrics"
  fi
done
exit $status
