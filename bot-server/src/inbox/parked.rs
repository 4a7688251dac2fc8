//! Parked updates, for the admin routes: list them, put them back to pending (the workers run
//! them, in order within their chat), or discard them. Parked rows are never pruned.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Serialize;
use telbot_shared::store::{Db, StoreError};

use super::{Counters, Status, Writer};

/// Rows per statement that names update_ids.
const CHUNK: usize = 500;
/// Rows [`list`] returns at most.
pub const LIST_MAX: usize = 10_000;

/// One parked update as `GET /admin/parked` lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, sqlx::FromRow)]
pub struct ParkedRow {
    /// Telegram's id.
    pub update_id: i64,
    /// `message`, `callback_query`, …
    pub kind: String,
    /// Handler attempts made.
    pub attempts: i64,
    /// Why it was parked.
    pub last_error: Option<String>,
    /// When it was stored (unix seconds).
    pub received_at: i64,
}

/// The parked list's query (`status <> 1`: see `super::sql` on partial indexes).
pub(super) const LIST: &str = "SELECT update_id, kind, attempts, last_error, received_at FROM inbox \
     WHERE status = $1 AND status <> 1 ORDER BY seq LIMIT $2";
/// Parked rows back to pending (`$1`), all of them or with `AND update_id IN (…)`.
pub(super) const REPLAY: &str = "UPDATE inbox SET status = $1, attempts = 0, done_at = NULL, \
     claimed_by = NULL, claimed_until = NULL WHERE status = $2 AND status <> 1";
/// Parked rows discarded (`$1`) at `$2`.
pub(super) const DISCARD: &str =
    "UPDATE inbox SET status = $1, done_at = $2 WHERE status = $3 AND status <> 1";

/// The parked updates, oldest first (at most [`LIST_MAX`]).
pub async fn list(db: &Db) -> Result<Vec<ParkedRow>, StoreError> {
    Ok(sqlx::query_as(LIST)
        .bind(Status::Parked as i64)
        .bind(LIST_MAX as i64)
        .fetch_all(&db.pool)
        .await?)
}

/// Puts parked updates (`ids`, or all when `None`) back to pending and has the workers read
/// them; returns how many.
pub async fn replay(
    db: &Db,
    writer: &Writer,
    counters: &Arc<Counters>,
    ids: Option<&[i64]>,
) -> Result<u64, StoreError> {
    // The claim of the instance that parked it goes too: any instance may run it now.
    let mut seqs: Vec<i64> = Vec::new();
    for (sql, chunk) in statements(REPLAY, ids) {
        // Admin actions with lists of any length: not worth a cached statement per length.
        let mut q =
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("{sql} RETURNING seq")))
                .persistent(false)
                .bind(Status::Pending as i64)
                .bind(Status::Parked as i64);
        for id in chunk {
            q = q.bind(*id);
        }
        seqs.extend(q.fetch_all(&db.pool).await?);
    }
    let n = seqs.len() as u64;
    if let Some(first) = seqs.iter().min() {
        Counters::sub(&counters.parked, n);
        Counters::add(&counters.depth, n);
        writer.rescan_from(first - 1);
        tracing::info!(count = n, "parked updates put back to pending");
    }
    Ok(n)
}

/// Discards parked updates (`ids`, or all when `None`): they leave the parked list and are
/// pruned like handled ones (kept until then so a redelivery is still recognised).
pub async fn discard(
    db: &Db,
    counters: &Arc<Counters>,
    ids: Option<&[i64]>,
) -> Result<u64, StoreError> {
    let mut n = 0;
    for (sql, chunk) in statements(DISCARD, ids) {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .persistent(false)
            .bind(Status::Discarded as i64)
            .bind(telbot_shared::unix_now())
            .bind(Status::Parked as i64);
        for id in chunk {
            q = q.bind(*id);
        }
        n += q.execute(&db.pool).await?.rows_affected();
    }
    if n > 0 {
        Counters::sub(&counters.parked, n);
        tracing::info!(count = n, "parked updates discarded");
    }
    // The count may have drifted if another process changed rows: take the store's word.
    if let Ok(now) = super::sql::count_parked(db).await {
        counters.parked.store(now, Ordering::Relaxed);
    }
    Ok(n)
}

/// `base` (whose placeholders end at `$k`), once for all rows or once per chunk of `ids` with
/// `AND update_id IN (…)` appended.
fn statements<'a>(base: &str, ids: Option<&'a [i64]>) -> Vec<(String, &'a [i64])> {
    let Some(ids) = ids else {
        return vec![(base.to_string(), &[][..])];
    };
    let next = base.matches('$').count() + 1;
    ids.chunks(CHUNK)
        .map(|chunk| {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", next + i)).collect();
            (
                format!("{base} AND update_id IN ({})", list.join(",")),
                chunk,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_id_lists_get_their_own_placeholders() {
        let all = statements("UPDATE x SET a = $1 WHERE b = $2", None);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, "UPDATE x SET a = $1 WHERE b = $2");
        let ids: Vec<i64> = (0..(CHUNK as i64 + 1)).collect();
        let some = statements("UPDATE x SET a = $1 WHERE b = $2", Some(&ids));
        assert_eq!(some.len(), 2);
        assert!(some[0].0.ends_with(&format!("${})", CHUNK + 2)));
        assert!(some[1].0.ends_with("AND update_id IN ($3)"));
        assert!(statements("x = $1", Some(&[])).is_empty());
    }
}
