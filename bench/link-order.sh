#!/usr/bin/env bash
# Makes crates/reference-bot/link-order.txt: the functions bot-server runs through start-up,
# /health, /metrics, /webhook/health, N updates and a few idle seconds, as callgrind sees them
# in the release build itself. crates/reference-bot/build.rs hands the list to the linker, so
# these functions sit together at the front of .text and an idle process maps ~4 MB of code
# instead of ~11 MB (BENCHMARKS.md, "idle memory"). Re-run after a dependency or release-profile
# change: symbol names carry a hash of both, and names the build no longer has are skipped.
#
#   bench/link-order.sh [N]        (N updates, default 300; needs valgrind and the peers' fake API)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="${PEERS_DIR:-$ROOT/../shared/bench/peers}"
FAKE="${FAKEAPI:-${BENCH_BUILD_DIR:-$PEERS/.build}/target/release/fakeapi}"
N="${1:-300}"
BIN="$ROOT/target/release/bot-server"
LIST="$ROOT/crates/reference-bot/link-order.txt"
OUT="$(mktemp -d)"
FAKE_PORT=18191 PORT=18192
cargo build --release -p telbot-reference-bot --manifest-path "$ROOT/Cargo.toml"
[ -x "$FAKE" ] || { echo "no fake Bot API at $FAKE (run ../shared/bench/peers/run.sh once)" >&2; exit 1; }
FAKEAPI_PORT="$FAKE_PORT" "$FAKE" >"$OUT/fake.log" 2>&1 &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$FAKE_PORT/stats" >/dev/null && break; sleep 0.1; done
env PORT="$PORT" TELEGRAM_API_URL="http://127.0.0.1:$FAKE_PORT" TELEGRAM_BOT_TOKEN=123:link-order \
  WEBHOOK_SECRET=lo-secret PUBLIC_URL="http://127.0.0.1:$PORT" BOT_MODE=webhook \
  DATABASE_URL="sqlite://$OUT/bench.db" ADMIN_TOKEN=lo-admin-token-0123456789 RUST_LOG=warn \
  TELBOT__TELEGRAM__RATE_LIMIT=false \
  valgrind --tool=callgrind --demangle=no --compress-strings=no --callgrind-out-file="$OUT/cg.out" \
  "$BIN" >"$OUT/bot.log" 2>&1 &
PID=$!
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
sleep 2
for route in health metrics webhook/health ready; do curl -s "http://127.0.0.1:$PORT/$route" >/dev/null; done
python3 "$ROOT/bench/post_updates.py" "$PORT" "$N" lo-secret "http://127.0.0.1:$FAKE_PORT/stats" >&2
sleep 3
kill -TERM "$PID"; wait "$PID" || true
# Functions of the binary itself (not libc), first appearance first, kept only if the binary
# defines them as code.
nm --defined-only "$BIN" | awk '$2 ~ /^[tTwW]$/ {print $3}' | sort -u >"$OUT/defined"
awk '/^ob=/ {ob = $0} /^fn=/ && ob ~ /bot-server/ {f = substr($0, 4); if (!(f in seen)) {seen[f] = 1; print f}}' \
  "$OUT/cg.out" | awk 'NR == FNR {d[$1] = 1; next} ($1 in d)' "$OUT/defined" - >"$LIST"
echo "$(wc -l <"$LIST") functions in $LIST; rebuilding with them in front" >&2
cargo build --release -p telbot-reference-bot --manifest-path "$ROOT/Cargo.toml"
