//! One batch commit of the inbox writer, on a connection of its own, and what happens to that
//! connection when the commit fails: rolled back explicitly, and returned to the pool only when
//! it is verifiably outside any transaction; otherwise, and always after an unknown outcome, it
//! is closed, so no pooled connection ever sits inside a failed write transaction (which, on
//! SQLite, holds the database's write lock and turns every later "commit" into a savepoint).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Connection};
use telbot_shared::store::{Db, StoreError};

use super::request::Req;
use super::{Status, Wakeup, sql};

/// Longest one batch commit may take before its requests are answered 503.
pub(super) const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a discarded connection to close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// Pauses between the extra reads of the store after a commit with an unknown outcome.
const LATE_RESCANS_S: [u64; 6] = [1, 2, 4, 8, 15, 30];

/// How one batch commit ended.
pub(super) enum Commit {
    /// Committed: for each insert, the new seq or `None` (duplicate).
    Done(Vec<Option<i64>>),
    /// Not committed, for certain.
    Failed(String),
    /// Maybe committed (timed out, or the connection broke during COMMIT).
    Unknown(String),
}

/// Writes a batch in one transaction on a connection of its own, and makes sure that
/// connection is clean before it goes back to the pool.
///
/// On SQLite the writer keeps its connection between commits (`held`): the pool would ping
/// it when handing it out and again when taking it back, two extra round trips to sqlx's
/// SQLite thread per commit, for a connection to a file that cannot break. A connection
/// whose commit failed is never kept (see `settle`). On PostgreSQL the pool's checks stay:
/// a held socket could have died with a server restart.
pub(super) async fn commit(
    db: &Db,
    held: &mut Option<PoolConnection<Any>>,
    batch: &[Req],
    now: i64,
    wakeup: &Arc<Wakeup>,
    last_seq: i64,
    owner: &str,
) -> Commit {
    let mut conn = match held.take() {
        Some(c) => c,
        // The pool's acquire_timeout bounds this.
        None => match db.pool.acquire().await {
            Ok(c) => c,
            Err(e) => return Commit::Failed(StoreError::from(e).to_string()),
        },
    };
    let notify = db.backend == telbot_shared::config::Backend::Postgres;
    match tokio::time::timeout(COMMIT_TIMEOUT, write(&mut conn, batch, now, owner, notify)).await {
        Ok(Ok(seqs)) => {
            if !notify {
                *held = Some(conn);
            }
            Commit::Done(seqs)
        }
        Ok(Err(WriteError::Before(e))) => {
            settle(conn).await;
            Commit::Failed(StoreError::from(e).to_string())
        }
        // The database refused the COMMIT: nothing was written.
        Ok(Err(WriteError::Commit(e @ sqlx::Error::Database(_)))) => {
            settle(conn).await;
            Commit::Failed(StoreError::from(e).to_string())
        }
        Ok(Err(WriteError::Commit(e))) => {
            discard(conn, Some((wakeup.clone(), last_seq)));
            Commit::Unknown(StoreError::from(e).to_string())
        }
        Err(_) => {
            discard(conn, Some((wakeup.clone(), last_seq)));
            Commit::Unknown("inbox commit timed out; its outcome is unknown".into())
        }
    }
}

enum WriteError {
    /// Before COMMIT: rolled back (or the connection will be discarded).
    Before(sqlx::Error),
    /// COMMIT itself failed.
    Commit(sqlx::Error),
}

async fn write(
    conn: &mut AnyConnection,
    batch: &[Req],
    now: i64,
    owner: &str,
    notify: bool,
) -> Result<Vec<Option<i64>>, WriteError> {
    let mut tx = conn.begin().await.map_err(WriteError::Before)?;
    let seqs = match statements(&mut tx, batch, now, owner, notify).await {
        Ok(s) => s,
        Err(e) => {
            // Explicitly; a failed rollback leaves the connection marked as in a transaction,
            // and `settle` discards it.
            if let Err(r) = tx.rollback().await {
                tracing::warn!(error = %r, "rollback after a failed inbox write failed");
            }
            return Err(WriteError::Before(e));
        }
    };
    tx.commit().await.map_err(WriteError::Commit)?;
    Ok(seqs)
}

/// Completions another instance's claim fenced out: it took the rows over after this
/// instance's claim expired (a stall past `inbox.claim_lease`) and records them itself.
fn fenced_out(n: u64) {
    if n > 0 {
        metrics::counter!("telbot_inbox_claims_lost_total").increment(n);
        tracing::warn!(
            rows = n,
            "another instance took over updates whose claim expired here; its result stands"
        );
    }
}

async fn statements(
    tx: &mut AnyConnection,
    batch: &[Req],
    now: i64,
    owner: &str,
    notify: bool,
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    let rows: Vec<(i64, &str, &str, &str)> = batch
        .iter()
        .filter_map(|r| match r {
            Req::Insert(u, _) => Some((
                u.update_id,
                u.kind.as_str(),
                u.key.as_str(),
                u.payload.as_str(),
            )),
            Req::Finish(..) => None,
        })
        .collect();
    let new = if rows.is_empty() {
        HashMap::new()
    } else {
        sql::insert_many(tx, &rows, now).await?
    };
    if notify && !new.is_empty() {
        // Delivered at commit to the other instances' LISTEN (see super::claim).
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT pg_notify('{}', '')",
            super::sql::CHANNEL
        )))
        .execute(&mut *tx)
        .await?;
    }
    // The first occurrence of an update_id in the batch is the new one; later ones are duplicates.
    let mut taken = HashSet::new();
    let seqs = rows
        .iter()
        .map(|(id, ..)| {
            if taken.insert(*id) {
                new.get(id).copied()
            } else {
                None
            }
        })
        .collect();
    // Plain successes go in one statement per attempt count; the rest one by one.
    let mut done: HashMap<u32, Vec<i64>> = HashMap::new();
    for r in batch {
        if let Req::Finish(f, _) = r {
            if f.status == Status::Done && f.error.is_none() && f.reply.is_none() {
                done.entry(f.attempts).or_default().push(f.seq);
            } else {
                if !sql::finish(tx, f, now, owner).await? {
                    fenced_out(1);
                }
            }
        }
    }
    for (attempts, seqs) in done {
        let written = sql::finish_done_many(tx, &seqs, attempts, now, owner).await?;
        fenced_out(seqs.len() as u64 - written.min(seqs.len() as u64));
    }
    Ok(seqs)
}

/// After a failed write: the connection goes back to the pool only if it answers and sqlx
/// knows it outside any transaction (a queued rollback has run by the time the ping returns).
async fn settle(mut conn: PoolConnection<Any>) {
    let answered = matches!(
        tokio::time::timeout(COMMIT_TIMEOUT, conn.ping()).await,
        Ok(Ok(()))
    );
    if !answered || conn.is_in_transaction() {
        tracing::warn!(
            "a connection left in an unknown transaction state after a failed inbox commit is closed"
        );
        discard(conn, None);
    }
}

/// Closes a connection instead of returning it to the pool (the pool opens a replacement).
/// With `rescan`, the dispatcher then reads every pending row above the given seq: a commit
/// whose outcome was unknown has settled one way or the other once its connection is closed.
fn discard(conn: PoolConnection<Any>, rescan: Option<(Arc<Wakeup>, i64)>) {
    tokio::spawn(async move {
        if tokio::time::timeout(CLOSE_TIMEOUT, conn.close())
            .await
            .is_err()
        {
            tracing::warn!("closing a discarded store connection timed out");
        }
        if let Some((wakeup, floor)) = rescan {
            // A server may still apply the COMMIT after the socket closed (PostgreSQL waiting
            // on a synchronous standby does): read again now and a few times over a minute.
            wakeup.rescan_from(floor);
            for secs in LATE_RESCANS_S {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                wakeup.rescan_from(floor);
            }
        }
    });
}
