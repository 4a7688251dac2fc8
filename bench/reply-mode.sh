#!/usr/bin/env bash
# Replies in the webhook answer (webhook.reply_in_answer) beside the normal path, on SQLite:
# processed/s, ack latency and CPU per processed update, medians of 3 (bench/reply_mode.py).
# Writes bench/results/reply-mode.json; `python3 bench/report.py` puts it in BENCHMARKS.md.
#
#   bench/reply-mode.sh [BOT_SERVER_BINARY] [SECONDS] [CONNS]
#
# Needs wrk and the fake Bot API of ../shared/bench/peers (built here if missing).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="${1:-$HERE/../target/release/bot-server}"
PEERS="${PEERS_DIR:-$HERE/../../shared/bench/peers}"
BUILD="${BENCH_BUILD_DIR:-$PEERS/.build}"
FAKE="${FAKEAPI:-$BUILD/target/release/fakeapi}"
if [ ! -x "$FAKE" ]; then
  (cd "$PEERS/fakeapi" && CARGO_TARGET_DIR="$BUILD/target" cargo build --release --locked -q)
fi
[ -x "$BIN" ] || (cd "$HERE/.." && cargo build --release -p telbot-reference-bot)
exec python3 "$HERE/reply_mode.py" "$BIN" "$FAKE" "$HERE/results/reply-mode.json" \
  --seconds "${2:-10}" --conns "${3:-40}"
