#!/usr/bin/env bash
# A bot-server on a fresh PostgreSQL database, for ../shared/bench/peers/run.sh --sut-cmd:
# drops and creates database `bench` on $BENCH_PG_PORT (see bench/run-all.sh, which starts a
# cluster with default settings) and execs bot-server on it.
set -euo pipefail
PG_PORT="${BENCH_PG_PORT:-55432}"  # not PORT: that is bot-server's listening port
psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c 'DROP DATABASE IF EXISTS bench' -c 'CREATE DATABASE bench' >/dev/null
export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/bench"
exec "$1"
