#!/usr/bin/env bash
# Reproduces the results of docs/BENCHMARKS.md: starts a throw-away
# PostgreSQL for the PostgreSQL limits (scripts/pg.sh), runs
# `sealtrail bench --full` (the feed is also measured over 10,000,000
# events) and stops PostgreSQL. Extra arguments go to `sealtrail bench`,
# e.g. --note "…" to label the run.
#
#   scripts/bench.sh [sealtrail bench options]
set -euo pipefail
cd "$(dirname "$0")/.."

url=$(bash scripts/pg.sh start)
trap 'bash scripts/pg.sh stop >/dev/null 2>&1 || true' EXIT
SEALTRAIL_LOG="${SEALTRAIL_LOG:-warn}" SEALTRAIL_BENCH_PG_URL="$url" \
  cargo run --release -p sealtrail -- bench --full "$@"
