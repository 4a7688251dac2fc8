#!/usr/bin/env bash
# Instructions per processed update, counted by valgrind's callgrind (repeatable on a noisy
# machine). Runs the given bot-server binary under callgrind twice, with N1 and N2 `/start`
# updates posted to 127.0.0.1 (each answered by one sendMessage at the bench's fake Bot API),
# and prints (I(N2) - I(N1)) / (N2 - N1): start-up and shutdown cancel out.
#
#   bench/callgrind.sh [BOT_SERVER_BINARY] [N1] [N2]
#   REPLY_IN_ANSWER=true bench/callgrind.sh ...   (replies ride on the webhook answer)
#   BIN_ARGS=repl bench/callgrind.sh target/release/telbot-programs   (a program with arguments)
#
# Needs the fake Bot API of ../shared/bench/peers (built by its run.sh) and valgrind.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="${1:-$HERE/../target/release/bot-server}"
N1="${2:-300}"
N2="${3:-1300}"
PEERS="${PEERS_DIR:-$HERE/../../shared/bench/peers}"
FAKE="${FAKEAPI:-${BENCH_BUILD_DIR:-$PEERS/.build}/target/release/fakeapi}"
OUT="${OUT_DIR:-$(mktemp -d)}"
mkdir -p "$OUT"
FAKE_PORT="${FAKE_PORT:-18091}"
PORT="${SUT_PORT:-18092}"

FAKEAPI_PORT="$FAKE_PORT" "$FAKE" >"$OUT/fake.log" 2>&1 &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$FAKE_PORT/stats" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$FAKE_PORT/stats" >/dev/null || { echo "the fake Bot API ($FAKE) did not start" >&2; exit 1; }

run() {
  local n="$1" dir="$OUT/n$1"
  rm -rf "$dir"; mkdir -p "$dir"
  curl -sf -X POST "http://127.0.0.1:$FAKE_PORT/reset" >/dev/null
  env PORT="$PORT" TELEGRAM_API_URL="http://127.0.0.1:$FAKE_PORT" TELEGRAM_BOT_TOKEN=123:callgrind \
    WEBHOOK_SECRET=cg-secret PUBLIC_URL="http://127.0.0.1:$PORT" BOT_MODE=webhook \
    DATABASE_URL="sqlite://$dir/bench.db" ADMIN_TOKEN=cg-admin-token-0123456789 RUST_LOG=warn \
    TELBOT__TELEGRAM__RATE_LIMIT=false TELBOT__WEBHOOK__REPLY_IN_ANSWER="${REPLY_IN_ANSWER:-false}" \
    valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" "$BIN" ${BIN_ARGS:-} >"$dir/bot.log" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
  python3 "$HERE/post_updates.py" "$PORT" "$n" cg-secret "http://127.0.0.1:$FAKE_PORT/stats" $([ "${REPLY_IN_ANSWER:-false}" = true ] && echo answers) >&2 \
    || { kill -TERM "$pid"; echo "updates not all answered" >&2; exit 1; }
  kill -TERM "$pid"; wait "$pid" || true
  grep -E "^(summary|totals):" "$dir/callgrind.out" | head -1 | awk '{print $2}'
}
I1=$(run "$N1")
I2=$(run "$N2")
echo "instructions: N=$N1 -> $I1, N=$N2 -> $I2"
echo "instructions per processed update: $(( (I2 - I1) / (N2 - N1) ))"
echo "profiles in $OUT (callgrind_annotate $OUT/n$N2/callgrind.out)"
