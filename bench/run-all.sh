#!/usr/bin/env bash
# Every benchmark behind BENCHMARKS.md, then the report. Runs the release bot-server against
# ../shared/bench/peers (teloxide's stock listener, python-telegram-bot, aiogram), copies each
# results JSON into bench/results/ and records the exact command in bench/results/runs.json.
# About 45 minutes on 2 cores; leave the machine otherwise idle.
#
#   bench/run-all.sh            # build, run everything, write BENCHMARKS.md and bench/plot.svg
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="$(cd "$ROOT/../shared/bench/peers" && pwd)"
RES="$ROOT/bench/results"
BIN="$ROOT/target/release/bot-server"
ENV='RUST_LOG=warn TELBOT__TELEGRAM__RATE_LIMIT=false'
mkdir -p "$RES"
cargo build --release -p telbot-reference-bot -p telbot-programs --manifest-path "$ROOT/Cargo.toml"
PROGRAMS="$ROOT/target/release/telbot-programs"

RUNS=()
run() { # what, suffix, run.sh args...
  local what="$1" suffix="$2"; shift 2
  local before; before="$(ls "$PEERS/results" 2>/dev/null | sort | tail -1 || true)"
  echo "== $what" >&2
  "$PEERS/run.sh" "$@" >&2
  local file; file="$(ls "$PEERS/results" | sort | tail -1)"
  [ "$file" != "$before" ] || { echo "no new results file" >&2; exit 1; }
  cp "$PEERS/results/$file" "$RES/$file"
  local cmd="../shared/bench/peers/run.sh"
  for a in "$@"; do cmd+=" $(printf '%q' "$a")"; done
  RUNS+=("$(python3 -c 'import json,sys; print(json.dumps({"file": sys.argv[1], "what": sys.argv[2], "system_suffix": sys.argv[3], "command": sys.argv[4]}))' "$file" "$what" "$suffix" "$cmd")")
}

run "SQLite (synchronous = FULL): closed loop at 40 and 100 connections, 1,000 updates/s" "" \
  --sut-cmd "$BIN" --sut-name telbot --sut-env "$ENV" --repeat 3
run "SQLite: a fixed 2,000 updates/s" "" \
  --only teloxide-stock,aiogram --sut-cmd "$BIN" --sut-name telbot --sut-env "$ENV" \
  --conns '' --rate 2000 --repeat 3
for rate in 3000; do
  run "SQLite: a fixed $rate updates/s (for the plot)" "" \
    --only teloxide-stock,aiogram --sut-cmd "$BIN" --sut-name telbot --sut-env "$ENV" \
    --conns '' --rate "$rate"
done

# Issue 29, target 5: replies through teloxide's `Bot` the way a moved program writes them
# (`telbot-programs repl`: `bot.send_message(..).await`, through the loopback gateway) beside
# the reference bot (teloxide's `Bot`, its reply through `.send_ignoring_result()`, which hands
# the payload to telbot's client in the handler's task). SUT only, closed loops.
for sut in "telbot:$BIN" "telbot-repl:$PROGRAMS repl"; do
  run "Replies through teloxide's Bot: ${sut%%:*} (SUT only, closed loops)" "-bot" \
    --only none --sut-cmd "${sut#*:}" --sut-name "${sut%%:*}" --sut-env "$ENV" \
    --no-rate --repeat 3
done

# PostgreSQL with default settings, on loopback.
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort | tail -1)"
PGDIR="$(mktemp -d /tmp/bench-pg.XXXX)"
chown postgres:postgres "$PGDIR" 2>/dev/null || true
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi; }
as_pg "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres -E UTF8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -o "-p 55432 -k $PGDIR -c listen_addresses=127.0.0.1" -l "$PGDIR/log" -w start >/dev/null
trap 'as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null; rm -rf "$PGDIR"' EXIT
run "PostgreSQL (default settings): closed loop and 1,000 updates/s" "-pg" \
  --only teloxide-stock --sut-cmd "$ROOT/bench/pg-sut.sh $BIN" --sut-name telbot \
  --sut-env "$ENV BENCH_PG_PORT=55432" --repeat 3

# Replies in the webhook answer beside the normal path (bench/results/reply-mode.json).
"$ROOT/bench/reply-mode.sh" "$BIN"

{ printf '{"runs": [\n'; (IFS=$'\n'; echo "${RUNS[*]}") | sed '$!s/$/,/'; printf ']}\n'; } > "$RES/runs.json"
python3 "$ROOT/bench/report.py"
