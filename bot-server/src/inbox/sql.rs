//! The inbox's SQL. `$N` placeholders and `ON CONFLICT … DO NOTHING RETURNING` are valid in
//! both SQLite (3.35+) and PostgreSQL, so one set of statements serves both backends.

use std::sync::Arc;

use sqlx::AnyConnection;
use telbot_shared::store::{Db, StoreError};

use super::request::Finish;
use super::{Item, Status};

/// The NOTIFY channel of new inbox rows (sent at commit, heard by [`super::claim`]).
pub const CHANNEL: &str = "telbot_inbox";

// Every read of the inbox by status says `status <> 1` (not done) as well, as written: on
// SQLite `inbox_status_seq` holds only the rows not done (migration
// `0010_inbox_partial_indexes`), and SQLite uses a partial index only for a query whose WHERE
// contains the index's condition. Without it such a read scans the whole inbox, handled rows
// included (`tests::reads_by_status_use_the_partial_indexes`). On PostgreSQL it changes nothing.

/// Pending updates after `$1`, in arrival order, at most `$2` (see [`pending_after`]).
pub const PENDING_AFTER: &str =
    "WHERE status = 0 AND status <> 1 AND seq > $1 ORDER BY seq LIMIT $2";
/// One key's pending updates in `($2, $3]` (see [`pending_of_key`]).
pub const PENDING_OF_KEY: &str =
    "WHERE queue_key = $1 AND status = 0 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4";
/// How many rows have status `$1` (never 1, done: the index holds no done rows).
pub const COUNT_BY_STATUS: &str = "SELECT COUNT(*) FROM inbox WHERE status = $1 AND status <> 1";
/// How many updates wait to be handled.
pub const COUNT_PENDING: &str = "SELECT COUNT(*) FROM inbox WHERE status = 0 AND status <> 1";

/// The prune of finished rows before `$4` (see [`prune_done`]).
pub const PRUNE: &str = "DELETE FROM inbox WHERE status IN ($1, $2, $3) AND done_at < $4";

/// Rows per multi-row statement (5 parameters each: well under SQLite's limit).
const CHUNK: usize = 200;

/// Multi-row statements of at most this many rows are prepared once per connection and kept
/// (the usual group commit is a handful of rows); larger ones, and every size between this
/// and [`CHUNK`], are prepared for one execution and finalised. Without this bound each batch
/// size became its own cached prepared statement: up to sqlx's 100 per connection, some of
/// them 200-row programs, on each of the pool's connections — tens of MiB of heap that grew
/// in steps whenever a backlog produced batch sizes not seen before (the soak's RSS growth).
pub const CACHED_ROWS: usize = 16;

/// Whether a statement for `rows` rows stays in the connection's statement cache: small
/// batches and the full chunk only, so a connection caches at most `CACHED_ROWS + 1` variants
/// of each multi-row statement.
pub fn cache_statement(rows: usize) -> bool {
    rows <= CACHED_ROWS || rows == CHUNK
}

/// Inserts many updates with one statement per [`CHUNK`] rows; returns `update_id → seq` for
/// the rows that were new (known update_ids are left out).
pub async fn insert_many(
    tx: &mut AnyConnection,
    rows: &[(i64, &str, &str, &str)],
    now: i64,
) -> Result<std::collections::HashMap<i64, i64>, sqlx::Error> {
    let mut out = std::collections::HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        let mut sql = String::from(
            "INSERT INTO inbox (update_id, kind, queue_key, payload, received_at) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 5;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            ));
        }
        sql.push_str(" ON CONFLICT (update_id) DO NOTHING RETURNING update_id, seq");
        // Built as text, not with sqlx::QueryBuilder: through the Any driver QueryBuilder writes
        // `?` placeholders, which PostgreSQL refuses (launchbadge/sqlx#3000).
        let mut q = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql))
            .persistent(cache_statement(chunk.len()));
        for (id, kind, key, payload) in chunk {
            q = q.bind(*id).bind(*kind).bind(*key).bind(*payload).bind(now);
        }
        out.extend(q.fetch_all(&mut *tx).await?);
    }
    Ok(out)
}

/// The fence of every finish: a row claimed by another instance (it took over an expired
/// claim of ours, see [`super::claim`]) is not overwritten. Rows nobody claimed (SQLite, a
/// single instance) always pass.
const FENCE: &str = "(claimed_by IS NULL OR claimed_by = $4)";

/// Marks many updates done (no error) with one statement per [`CHUNK`] rows; returns how many
/// rows were still `owner`'s (or unclaimed) and so were written.
pub async fn finish_done_many(
    tx: &mut AnyConnection,
    seqs: &[i64],
    attempts: u32,
    now: i64,
    owner: &str,
) -> Result<u64, sqlx::Error> {
    let mut written = 0;
    for chunk in seqs.chunks(CHUNK) {
        let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 5)).collect();
        let sql = format!(
            "UPDATE inbox SET status = $1, attempts = $2, last_error = NULL, done_at = $3 \
             WHERE {FENCE} AND seq IN ({})",
            list.join(",")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .persistent(cache_statement(chunk.len()))
            .bind(Status::Done as i64)
            .bind(i64::from(attempts))
            .bind(now)
            .bind(owner);
        for seq in chunk {
            q = q.bind(*seq);
        }
        written += q.execute(&mut *tx).await?.rows_affected();
    }
    Ok(written)
}

/// Records how handling ended (or, for `Pending`, how many attempts were used); false when
/// the row was another instance's by then (fenced out).
pub async fn finish(
    tx: &mut AnyConnection,
    f: &Finish,
    now: i64,
    owner: &str,
) -> Result<bool, sqlx::Error> {
    let done_at = (f.status != Status::Pending).then_some(now);
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE inbox SET status = $1, attempts = $2, last_error = $3, done_at = $5, reply = $7 \
         WHERE {FENCE} AND seq = $6"
    )))
    .bind(f.status as i64)
    .bind(i64::from(f.attempts))
    .bind(f.error.as_deref())
    .bind(owner)
    .bind(done_at)
    .bind(f.seq)
    .bind(f.reply.as_deref())
    .execute(&mut *tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The columns an [`ItemRow`] is read from.
pub(crate) const ITEM_COLUMNS: &str =
    "seq, update_id, kind, queue_key, payload, attempts, received_at";

/// An inbox row as stored; [`Item`] is what the workers run.
#[derive(sqlx::FromRow)]
pub(crate) struct ItemRow {
    seq: i64,
    update_id: i64,
    kind: String,
    queue_key: String,
    payload: String,
    attempts: i64,
    received_at: i64,
}

impl From<ItemRow> for Item {
    fn from(r: ItemRow) -> Item {
        Item {
            seq: r.seq,
            update_id: r.update_id,
            kind: r.kind,
            key: Arc::from(r.queue_key),
            payload: Arc::from(r.payload),
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            received_at: r.received_at,
            received_ms: r.received_at.saturating_mul(1000),
        }
    }
}

/// Pending updates after `cursor`, in arrival order.
pub async fn pending_after(db: &Db, cursor: i64, limit: usize) -> Result<Vec<Item>, StoreError> {
    let rows: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ITEM_COLUMNS} FROM inbox {PENDING_AFTER}"
    )))
    .bind(cursor)
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(Item::from).collect())
}

/// One queue key's pending updates in `(after, upto]`, in arrival order: the backlog of a key
/// that had more waiting than the workers keep in memory (index `inbox_key_pending` on SQLite,
/// `inbox_key_status_seq` on PostgreSQL).
pub async fn pending_of_key(
    db: &Db,
    key: &str,
    after: i64,
    upto: i64,
    limit: usize,
) -> Result<Vec<Item>, StoreError> {
    let rows: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ITEM_COLUMNS} FROM inbox {PENDING_OF_KEY}"
    )))
    .bind(key)
    .bind(after)
    .bind(upto)
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(Item::from).collect())
}

/// How many updates are parked.
pub async fn count_parked(db: &Db) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar(COUNT_BY_STATUS)
        .bind(Status::Parked as i64)
        .fetch_one(&db.pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// How many updates wait to be handled.
pub async fn pending_count(db: &Db) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar(COUNT_PENDING)
        .fetch_one(&db.pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Forgets handled, skipped and discarded updates older than `before` (unix seconds);
/// pending and parked ones are never removed (parked ones wait for a person).
pub async fn prune_done(db: &Db, before: i64) -> Result<u64, StoreError> {
    let r = sqlx::query(PRUNE)
        .bind(Status::Done as i64)
        .bind(Status::Skipped as i64)
        .bind(Status::Discarded as i64)
        .bind(before)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected())
}

/// A stored update's status and the reply answered in its webhook (if any), for a redelivery.
pub async fn stored_reply(
    db: &Db,
    update_id: i64,
) -> Result<Option<(i64, Option<String>)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT status, reply FROM inbox WHERE update_id = $1")
            .bind(update_id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// Forgets a stored reply (it was sent as a request after its webhook answer was lost).
pub async fn clear_reply(db: &Db, seq: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE inbox SET reply = NULL WHERE seq = $1")
        .bind(seq)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Status of one update, for tests and the admin view.
pub async fn status_of(db: &Db, update_id: i64) -> Result<Option<(i64, i64)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT status, attempts FROM inbox WHERE update_id = $1")
            .bind(update_id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// SQLite's plan for `sql` (every `$N` bound to 0), one line per step.
    async fn plan(db: &Db, sql: &str) -> String {
        let params = (1..=9).filter(|n| sql.contains(&format!("${n}"))).count();
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(explain));
        for _ in 0..params {
            q = q.bind(0_i64);
        }
        let rows = q.fetch_all(&db.pool).await.unwrap();
        rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
    }

    /// Each read of the inbox by status, and the prune, goes through the partial index made
    /// for it (migration 0010) instead of scanning every stored row.
    #[tokio::test]
    async fn reads_by_status_use_the_partial_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::writer::tests::sqlite_in(&dir).await;
        let item = format!("SELECT {ITEM_COLUMNS} FROM inbox");
        let cases = [
            (format!("{item} {PENDING_AFTER}"), "inbox_status_seq"),
            (format!("{item} {PENDING_OF_KEY}"), "inbox_key_pending"),
            (COUNT_BY_STATUS.to_string(), "inbox_status_seq"),
            (COUNT_PENDING.to_string(), "inbox_status_seq"),
            (super::super::parked::LIST.to_string(), "inbox_status_seq"),
            (super::super::parked::REPLAY.to_string(), "inbox_status_seq"),
            (
                super::super::parked::DISCARD.to_string(),
                "inbox_status_seq",
            ),
            (
                telbot_shared::canary::USERS_PENDING.to_string(),
                "inbox_status_seq",
            ),
            (PRUNE.to_string(), "inbox_done_at"),
        ];
        for (sql, index) in cases {
            let p = plan(&db, &sql).await;
            assert!(
                p.contains(&format!("INDEX {index} ")) && !p.contains("SCAN inbox"),
                "{sql}\nplan: {p}\nexpected {index}"
            );
        }
        // The partial indexes themselves, as the migration left them.
        let defs: Vec<String> = sqlx::query_scalar(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'inbox' \
             AND sql IS NOT NULL ORDER BY name",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(defs.len(), 3, "{defs:?}");
        assert!(defs.iter().all(|d| d.contains(" WHERE ")), "{defs:?}");
    }
}
