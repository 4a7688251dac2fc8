#!/usr/bin/env bash
# EXPLAIN ANALYZE of the PostgreSQL claim's head search, before (every key's head first) and
# after (the first pass over the oldest 2048 pending rows), on 100,000 pending rows. Starts a
# throwaway cluster (default settings) on port 55499 and writes bench/results/pg-claim-explain.txt.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | tail -1)"
PGDIR="$(mktemp -d)"; chmod 777 "$PGDIR"
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi; }
as_pg "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres -E UTF8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -o "-p 55499 -k $PGDIR -c listen_addresses=127.0.0.1" -l "$PGDIR/log" -w start >/dev/null
trap 'as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null; rm -rf "$PGDIR"' EXIT
P=(psql -q -h 127.0.0.1 -p 55499 -U postgres -d postgres)
for f in "$ROOT"/shared/migrations/postgres/000{1,4,6}*.sql; do "${P[@]}" -f "$f"; done
NOT_EARLIER='NOT EXISTS (SELECT 1 FROM inbox c WHERE c.queue_key = i.queue_key AND c.status = 0 AND c.claimed_until IS NOT NULL AND c.seq <> i.seq AND c.claimed_until >= 1000)'
OLD="EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) WITH heads AS (SELECT DISTINCT ON (queue_key) seq, queue_key FROM inbox WHERE status = 0 ORDER BY queue_key, seq), free AS (SELECT i.seq FROM inbox i JOIN heads h ON h.seq = i.seq WHERE i.status = 0 AND (i.claimed_until IS NULL OR i.claimed_until < 1000) AND $NOT_EARLIER ORDER BY i.seq LIMIT 32 FOR UPDATE OF i SKIP LOCKED) SELECT count(*) FROM free"
WIN="EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) WITH free AS (SELECT i.seq FROM (SELECT seq FROM inbox WHERE status = 0 ORDER BY seq LIMIT 2048) w JOIN inbox i ON i.seq = w.seq WHERE i.status = 0 AND (i.claimed_until IS NULL OR i.claimed_until < 1000) AND NOT EXISTS (SELECT 1 FROM inbox p WHERE p.queue_key = i.queue_key AND p.status = 0 AND p.seq < i.seq) AND $NOT_EARLIER ORDER BY i.seq LIMIT 32 FOR UPDATE OF i SKIP LOCKED) SELECT count(*) FROM free"
fill() { "${P[@]}" -c "TRUNCATE inbox" -c "INSERT INTO inbox (update_id, kind, queue_key, payload, received_at) SELECT g, 'message', 'c' || (g % $1), '{}', 0 FROM generate_series(1,100000) g" -c "ANALYZE inbox"; }
run_heads() { "${P[@]}" -c "UPDATE inbox SET claimed_until = 999999, claimed_by = 'x' WHERE seq IN (SELECT min(seq) FROM inbox WHERE status = 0 GROUP BY queue_key ORDER BY 1 LIMIT $1)"; }
t() { "${P[@]}" -c "$1" | grep 'Execution Time' | sed 's/ *Execution Time: //'; }
{
  echo "# EXPLAIN ANALYZE execution time of the claim's head search (bench/pg-claim-explain.sh; $("${P[@]}" -At -c 'show server_version'), default settings, $(date -u +%F))."
  echo "# old = every key's head first (DISTINCT ON), the claim before the change and its second pass now; window = its first pass now."
  fill 1000;   echo "1000 chats x 100 rows, none running | old $(t "$OLD") | window $(t "$WIN")"
  run_heads 128; echo "1000 chats x 100 rows, 128 heads running | old $(t "$OLD") | window $(t "$WIN")"
  run_heads 1000; echo "1000 chats x 100 rows, every head running | old $(t "$OLD") | window $(t "$WIN") (then the second pass)"
  fill 100000; echo "100,000 chats x 1 row | old $(t "$OLD") | window $(t "$WIN")"
} | tee "$ROOT/bench/results/pg-claim-explain.txt"
