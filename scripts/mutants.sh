#!/usr/bin/env bash
# Mutation testing of one crate with cargo-mutants (from the per-machine tool cache, scripts/tools.sh): every
# mutant of CRATE is tested against CRATE's own tests only (cargo-mutants' default for a mutated package; the
# workspace's acceptance tests do not count), and the run fails when the share of viable mutants those tests
# catch is below MIN_PERCENT. Equivalent mutants are excluded, each with its reason, in .cargo/mutants.toml.
#
#   scripts/mutants.sh CRATE MIN_PERCENT [cargo-mutants options...]     e.g. scripts/mutants.sh domain 95
#
# A timeout (a mutant that makes a test hang) counts as caught: the tests did not pass. The report lands in
# target/mutants/CRATE/mutants.out (missed.txt lists the survivors). MUTANTS_JOBS sets cargo-mutants' --jobs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
crate=${1:?usage: scripts/mutants.sh CRATE MIN_PERCENT [options...]}
min=${2:?usage: scripts/mutants.sh CRATE MIN_PERCENT [options...]}
shift 2
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"
mutants="$(cargo_tool cargo-mutants "$CARGO_MUTANTS_VERSION" cargo-mutants)"

out="target/mutants/$crate"
mkdir -p "$out"
status=0
"$mutants" mutants --package "$crate" --test-workspace=false --output "$out" --jobs "${MUTANTS_JOBS:-1}" \
  --colors=never "$@" || status=$?
# cargo-mutants exits 2 when mutants were missed and 3 on timeouts: that is what the ratio below judges.
# Anything else (1: bad usage, 4: the unmutated tree fails its tests) is a failure of the run itself.
case $status in
  0 | 2 | 3) ;;
  *)
    echo "mutants: cargo-mutants failed on $crate (exit $status); see $out/mutants.out" >&2
    exit "$status"
    ;;
esac

count() { if [ -f "$out/mutants.out/$1.txt" ]; then grep -c . "$out/mutants.out/$1.txt" || true; else echo 0; fi; }
caught=$(count caught)
missed=$(count missed)
timeouts=$(count timeout)
unviable=$(count unviable)
viable=$((caught + missed + timeouts))
if [ "$viable" -eq 0 ]; then
  echo "mutants: $crate has no viable mutant; nothing was tested" >&2
  exit 1
fi
# percent with one decimal, in integer arithmetic
permille=$(((caught + timeouts) * 1000 / viable))
percent="$((permille / 10)).$((permille % 10))"
echo "mutants: $crate: $((viable + unviable)) mutants: $caught caught, $missed missed, $timeouts timeouts," \
  "$unviable unviable: $percent% of viable caught (target $min%)"
if [ "$missed" -gt 0 ]; then
  echo "mutants: $crate: survivors:"
  sed 's/^/  /' "$out/mutants.out/missed.txt"
fi
if [ "$permille" -lt $((min * 10)) ]; then
  echo "mutants: $crate is below its target of $min%: add tests that catch the survivors above," \
    "or exclude a truly equivalent one in .cargo/mutants.toml with its reason" >&2
  exit 1
fi
