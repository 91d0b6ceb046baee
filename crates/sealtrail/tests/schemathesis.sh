#!/usr/bin/env bash
# Property-based API testing with Schemathesis (https://schemathesis.io)
# against a real server and its own /v1/openapi.json.
#
# Starts `sealtrail serve` on a free port with a fresh data directory,
# creates a parent and a child organization, an ingest key, a compliance
# key (every compliance scope in use, so exports, erasures, retention, legal
# holds and sinks are exercised, not only refused) and some events, then
# runs Schemathesis over:
#   1. the public and compliance endpoints with the compliance key;
#   2. the ingest endpoint with the ingest key;
#   3. the operator endpoints with the operator key.
# Checks: every Schemathesis check but positive_data_acceptance: no 5xx;
# status code, content type, headers and body conform to the document;
# schema-violating data is refused; authentication is not ignored;
# unsupported methods answer 405 with Allow; stateful links behave.
#
# No traffic leaves this host: sinks deliver to whatever their settings
# name, so schemathesis_hooks.py keeps every sink Schemathesis creates or
# changes on loopback (and paused), the sinks are checked after the runs,
# and where Linux allows an unprivileged network namespace the server and
# Schemathesis run in one that has only a loopback interface.
#
# Usage: crates/sealtrail/tests/schemathesis.sh
# Environment:
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation (default 100)
#   SCHEMATHESIS_VENV          virtualenv to use/create (default target/schemathesis-venv)
#   SCHEMATHESIS_REQUIRED=1    fail instead of skipping when it cannot be installed
#   SEALTRAIL_BIN              server binary (default: cargo build, target/debug/sealtrail)
# Exit status: 0 when every run passes (or Schemathesis cannot be installed
# and SCHEMATHESIS_REQUIRED is unset: a SKIPPED line says so), 1 otherwise.
set -euo pipefail

root="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$root"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
venv="${SCHEMATHESIS_VENV:-$root/target/schemathesis-venv}"

# --- Schemathesis -----------------------------------------------------------
if [[ ! -x "$venv/bin/schemathesis" ]]; then
  echo "installing schemathesis into $venv"
  if ! { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet schemathesis; }; then
    if [[ "${SCHEMATHESIS_REQUIRED:-}" == 1 ]]; then
      echo "FAILED: schemathesis could not be installed with pip" >&2
      exit 1
    fi
    echo "SKIPPED: schemathesis could not be installed with pip; no API fuzzing was done" >&2
    exit 0
  fi
fi
st="$venv/bin/schemathesis"
echo "using $("$st" --version)"

# --- Server -----------------------------------------------------------------
bin="${SEALTRAIL_BIN:-}"
if [[ -z "$bin" ]]; then
  cargo build --quiet -p sealtrail
  bin="$root/target/debug/sealtrail"
fi

# --- Network isolation --------------------------------------------------------
# Everything from here on needs only loopback: run it again inside a private
# network namespace when possible (installing and building above need the
# network, so they stay outside).
hooks="$root/crates/sealtrail/tests/schemathesis_hooks.py"
if [[ -z "${SEALTRAIL_SCHEMATHESIS_NETNS:-}" ]]; then
  if command -v unshare >/dev/null && command -v ip >/dev/null \
     && unshare -rn ip link set lo up 2>/dev/null; then
    echo "running in a private network namespace (loopback only)"
    export SEALTRAIL_SCHEMATHESIS_NETNS=1 SEALTRAIL_BIN="$bin" SCHEMATHESIS_VENV="$venv"
    exec unshare -rn bash -c 'ip link set lo up && exec "$@"' bash "$root/crates/sealtrail/tests/schemathesis.sh" "$@"
  fi
  echo "no private network namespace available: sinks are kept on loopback by $hooks"
fi
work="$(mktemp -d)"
logs="$root/target/schemathesis"
mkdir -p "$logs"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
SEALTRAIL_RATE_LIMIT_PER_MINUTE=1000000 SEALTRAIL_CHECKPOINT_INTERVAL_MS=200 \
  "$bin" serve --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  cp "$work/server.err" "$logs/server.log" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
op="$(grep -o 'opk_[A-Za-z0-9]*\.[A-Za-z0-9]*' "$work/server.out" | head -n1)"
[[ -n "$op" ]] || { echo "no operator key in the server output" >&2; cat "$work/server.out" "$work/server.err" >&2; exit 1; }

call() { # method path [json body] -> response body; fails on HTTP errors
  local method="$1" path="$2" body="${3:-}"
  if [[ -n "$body" ]]; then
    curl -fsS -X "$method" "$base$path" -H "x-api-key: $op" -H 'content-type: application/json' -d "$body"
  else
    curl -fsS -X "$method" "$base$path" -H "x-api-key: $op"
  fi
}
token() { python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }

call POST /v1/operator/organizations '{"id":"org_parent","name":"Parent"}' >/dev/null
call POST /v1/operator/organizations '{"id":"org_child","name":"Child","parent_id":"org_parent"}' >/dev/null
call POST /v1/operator/organizations/org_parent/enable >/dev/null
call POST /v1/operator/organizations/org_child/enable >/dev/null
ingest="$(call POST /v1/operator/keys '{"kind":"ingest","organization_id":"org_parent","product":"platform","name":"fuzz source"}' | token)"
reader="$(call POST /v1/operator/keys '{"kind":"compliance","organization_id":"org_parent","scopes":["read:activities","read:integrity","export","delete:subject_data","manage:sinks"],"name":"fuzz reader"}' | token)"
events='['
for i in $(seq 1 20); do
  [[ $i -gt 1 ]] && events+=','
  events+="{\"type\":\"user.login\",\"created_at\":\"2026-01-01T00:00:0$((i % 10))Z\",\"organization_id\":\"org_child\",\"source_event_id\":\"seed-$i\",\"actor\":{\"type\":\"user\",\"id\":\"user_$i\",\"email\":\"u$i@example.com\",\"ip_address\":\"203.0.113.$i\"}}"
done
events+=']'
curl -fsS -X POST "$base/v1/ingest/activities" -H "x-api-key: $ingest" -H 'content-type: application/json' -d "$events" >/dev/null
sleep 0.5 # let a checkpoint cover them

# --- Runs -------------------------------------------------------------------
# A batch over 1,000 events is refused with 413 (too many events), which is
# the documented answer to a body that breaks `maxItems`.
# The activity stream never ends by itself: Schemathesis reads each one for
# at most a second or a few events, then checks what arrived.
cat >"$work/schemathesis.toml" <<'TOML'
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]

[[operations]]
include-path = "/v1/compliance/activities/stream"
request-timeout = 1
max-stream-events = 3
TOML
# Every check except positive_data_acceptance: many schema-valid requests
# are rightly refused for reasons a schema cannot express (an organization
# that does not exist, after_id with before_id, first > second, an expiry in
# the past).
checks="${SCHEMATHESIS_CHECKS:-all}"
common=(--url "$base" --checks "$checks" --exclude-checks positive_data_acceptance --max-examples "$max_examples" --seed 1 --workers 2
        --suppress-health-check all --warnings off)
status=0
run() { # name, then extra arguments
  local name="$1"; shift
  echo
  echo "=== schemathesis: $name ==="
  # Run from the scratch directory so Schemathesis and Hypothesis keep
  # their caches out of the repository.
  local out="$work/run-${RANDOM}.log" attempt
  for attempt in 1 2; do
    if (cd "$work" && PYTHONDONTWRITEBYTECODE=1 SCHEMATHESIS_HOOKS="$hooks" "$st" --config-file "$work/schemathesis.toml" run "$base/v1/openapi.json" "${common[@]}" "$@") 2>&1 | tee "$out"; then
      echo "=== $name: passed ==="
      return
    fi
    # A run can end with Schemathesis's own runtime error (a crash inside
    # its generator) and no failed check: that says nothing about the
    # server. Try once more; if it crashes again without any failed check,
    # report it loudly but do not count it against the server.
    if grep -Eq '[0-9]+ (failure|failures)' "$out" || ! grep -q 'Runtime Error' "$out"; then
      echo "=== $name: FAILED ==="
      status=1
      return
    fi
    echo "=== $name: Schemathesis crashed internally (attempt $attempt), no check failed ==="
  done
  echo "WARNING: $name: Schemathesis crashed internally twice; no check failed, the run is incomplete" >&2
}
run "public and compliance endpoints (compliance key)" \
  -H "x-api-key: $reader" --include-path-regex '^/(healthz|readyz|metrics|docs|v1/openapi\.json|v1/integrity/|v1/compliance/)|^/$'
# Every sink left behind points at loopback (the hooks' guarantee). Checked
# now: only compliance keys reach sinks, and the operator run may revoke
# this key.
if ! curl -fsS "$base/v1/compliance/sinks" -H "x-api-key: $reader" \
     | (cd "$(dirname "$hooks")" && PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -c '
import json, sys
from schemathesis_hooks import on_loopback
sinks = json.load(sys.stdin)["data"]
elsewhere = [s["id"] for s in sinks if not on_loopback(s["destination"])]
print(f"{len(sinks)} sinks left, {len(elsewhere)} pointing elsewhere {elsewhere}")
sys.exit(1 if elsewhere else 0)'); then
  echo "the sinks could not be listed, or one points off this host" >&2
  status=1
fi
run "ingest (ingest key)" \
  -H "x-api-key: $ingest" --include-path-regex '^/v1/ingest/'
run "operator plane (operator key)" \
  -H "x-api-key: $op" --include-path-regex '^/v1/operator/'

if grep -q '"level":"ERROR"' "$work/server.err"; then
  echo "the server logged errors (all in $logs/server.log):" >&2
  grep '"level":"ERROR"' "$work/server.err" | sort | uniq -c | head -n 20 >&2
  status=1
fi
if grep -qi 'panicked' "$work/server.err"; then
  echo "the server panicked:" >&2
  grep -i -A5 'panicked' "$work/server.err" >&2
  status=1
fi
exit "$status"
