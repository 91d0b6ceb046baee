#!/usr/bin/env bash
# Profiles the server during batched ingest: runs `sealtrail bench --only
# ingest`, samples the process with `perf record` while the concurrency-4
# batched level runs, and prints where the CPU goes: per thread (the
# sequencer, the HTTP workers, the load generator) and, for the sequencer
# thread, per kind of work and per function.
#
#   scripts/bench-profile.sh [events per level, default 400000] [seconds, default 20] [level]
#
# `level` is the text of the ingest level to sample as the harness prints
# it: "concurrency 4" (default, batched), "concurrency 16" (batched), or
# "single-event requests for 10 s, concurrency 64" (single events; use a
# window of at most 9 s, the level lasts 10 s).
#
# Needs `perf` (Debian: linux-perf). On a VM without hardware counters it
# samples the cpu-clock software event, which is what this script uses.
set -euo pipefail
cd "$(dirname "$0")/.."

events="${1:-400000}"
secs="${2:-20}"
level="${3:-concurrency 4}"
out=target/sealtrail-bench/profile
mkdir -p "$out"

if ! command -v perf >/dev/null 2>&1; then
  echo "perf is missing: apt-get install linux-perf" >&2
  exit 1
fi

cargo build --release -p sealtrail >/dev/null
SEALTRAIL_LOG=warn ./target/release/sealtrail bench --only ingest --events "$events" \
  --out "$out/ingest.json" >"$out/stdout" 2>"$out/stderr" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 600); do
  grep -qF "$level" "$out/stderr" && break
  sleep 0.5
done
perf record -e cpu-clock -F 499 -p "$pid" -o "$out/perf.data" -- sleep "$secs" 2>/dev/null
wait "$pid"
trap - EXIT
grep -v '^{' "$out/stderr" | grep -E "events/s|requests/s" || true

echo
echo "== CPU samples per thread (one busy core = $((secs * 499)) samples)"
perf report -i "$out/perf.data" --sort comm --stdio -F overhead,sample,comm 2>/dev/null | grep -E '^ +[0-9]'
perf report -i "$out/perf.data" --comm sealtrail-seque --sort symbol --no-children --stdio 2>/dev/null \
  | grep -E '^ +[0-9]' >"$out/sequencer.txt"

echo
echo "== sequencer thread, by kind of work (share of the thread's samples)"
python3 - "$out/sequencer.txt" <<'EOF'
import re, sys
RULES = [
    ("SQLite (B-trees, pager, WAL, savepoint journal)", r"sqlite3|pcache|wal[A-Z]|pager|vdbe|balance|Btree|subjournal|memjrnl|Cell|Page|cursor|Cursor|unix(Write|Sync|Read)|rusqlite"),
    ("allocator (malloc, free)", r"malloc|_int_free|cfree|unlink_chunk|realloc|calloc|__rust_dealloc|__rdl_"),
    ("memcpy, memcmp, memset", r"memmove|memcpy|memcmp|memset"),
    ("JSON and BTreeMap (entry encoding, canonical order, envelopes)", r"serde|BTreeMap|btree::|entry::|canonical|json"),
    ("crypto (SHA-256, HMAC, ChaCha20-Poly1305, base64, hex)", r"sha2|Sha256|hmac|chacha|poly1305|base64|core_arch::x86|hex::|crypto::|leaf_hash|node_hash"),
    ("time formatting (jiff)", r"jiff|fmt_ms"),
]
tot, allp, top = {}, 0.0, []
for line in open(sys.argv[1]):
    m = re.match(r"\s+([\d.]+)%\s+\[(.)\]\s+(.*?)\s*(-\s+-\s*)?$", line)
    if not m:
        continue
    p, kern, sym = float(m.group(1)), m.group(2) == "k", m.group(3)
    allp += p
    top.append((p, ("[kernel] " if kern else "") + sym))
    if kern:
        cat = "kernel: getrandom" if re.search(r"crng|random", sym) else "kernel (WAL writes, fsync, scheduling)"
    else:
        cat = next((n for n, rx in RULES if re.search(rx, sym)), "other (clones, collections, sequencer logic)")
    tot[cat] = tot.get(cat, 0.0) + p
print(f"sequencer thread: {allp:.1f}% of the process's samples resolved to a function (shares below are of these)")
for c, p in sorted(tot.items(), key=lambda x: -x[1]):
    print(f"  {100 * p / allp:5.1f}%  {c}")
print("\n== sequencer thread, top functions (share of the thread's samples)")
for p, s in sorted(top, reverse=True)[:25]:
    print(f"  {100 * p / allp:5.1f}%  {s[:110]}")
EOF
