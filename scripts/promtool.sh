#!/usr/bin/env bash
# Prints the path of promtool, Prometheus's own checker of the metrics exposition (`promtool check metrics`), from
# Debian's `prometheus` package. When it is missing and we are root on Debian/Ubuntu it installs the package
# (without recommends: no node exporter), so a fresh machine and CI get it without a manual step; otherwise it
# says in one line what to install and exits 1. The metrics tests (crates/server/tests/binary/operability.rs) call it.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then
  command -v promtool
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  # one installer at a time (tests run in parallel); the second finds promtool installed
  exec 9>"${TMPDIR:-/tmp}/coalesce-promtool.lock"
  flock 9
  if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool: installing Debian's prometheus package" >&2
    install() { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >&2; }
    install || { apt-get update >&2 && install; } || true
  fi
  if command -v promtool >/dev/null 2>&1; then
    command -v promtool
    exit 0
  fi
fi
echo "promtool: not found and not installable here; install Debian's 'prometheus' package (apt-get install prometheus)" >&2
exit 1
