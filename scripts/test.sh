#!/usr/bin/env bash
# Runs Sealtrail's whole test suite on a fresh Debian machine with Rust.
# It installs what the tests need (as root, with apt-get and pip) when it is
# missing, then runs formatting, lint and every test of the workspace, then
# the integration tests a second time with every server on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
# Peers used by the tests: Go with golang.org/x/mod as an independent
# RFC 6962 / signed-note verifier.
have go || need_apt+=(golang-go)
[ -d /usr/share/gocode/src/golang.org/x/mod ] || need_apt+=(golang-golang-x-mod-dev)
# A real syslog receiver for the syslog sink tests, with its OpenSSL
# network stream driver for RFC 5425 (TLS).
[ -x /usr/sbin/rsyslogd ] || need_apt+=(rsyslog)
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so ] || ls /usr/lib/*/rsyslog/lmnsd_ossl.so >/dev/null 2>&1 || need_apt+=(rsyslog-openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${need_apt[*]}"
    apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "warning: not root, cannot install ${need_apt[*]}; the tests that need them will fail" >&2
  fi
fi

# An independent OCSF validator (PyPI pydantic-ocsf) for the OCSF tests.
python3 -c 'import ocsf.v1_7_0' 2>/dev/null || pip install --quiet --disable-pip-version-check pydantic-ocsf==3.0.0
# PostgreSQL for the engine's tests: a throw-away server in a temporary
# directory on a loopback port (scripts/pg.sh installs it if missing),
# stopped on exit. Tests read its URL and make a database each.
if [ -z "${SEALTRAIL_TEST_PG_URL:-}" ]; then
  SEALTRAIL_TEST_PG_URL="$(scripts/pg.sh start)"
  export SEALTRAIL_TEST_PG_URL
  trap 'scripts/pg.sh stop' EXIT
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Property-based API tests against the running server's own OpenAPI
# document (PyPI schemathesis, installed into a virtualenv under target/).
SCHEMATHESIS_REQUIRED=1 SCHEMATHESIS_MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-50}" \
  bash crates/sealtrail/tests/schemathesis.sh
cargo test --workspace --locked --no-fail-fast
# The black-box suite again, every server on PostgreSQL (a fresh database
# each; tests about SQLite's own files stay on SQLite). Unit and doc tests
# do not depend on the engine and ran above.
SEALTRAIL_TEST_ENGINE=postgres cargo test -p sealtrail --test '*' --locked --no-fail-fast
