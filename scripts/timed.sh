#!/usr/bin/env bash
# Runs one `make ci` step and appends "<step> <seconds> <ok|failed>" to a file, so that .ci/run can print where
# the time of a run went (and which step failed) at its end.
#
#   scripts/timed.sh FILE STEP COMMAND [ARGS...]     exits with COMMAND's status
set -uo pipefail
file=$1 step=$2
shift 2
start=$(date +%s)
"$@"
status=$?
outcome=ok
[ "$status" -eq 0 ] || outcome=failed
mkdir -p "$(dirname "$file")"
echo "$step $(($(date +%s) - start)) $outcome" >>"$file"
exit "$status"
