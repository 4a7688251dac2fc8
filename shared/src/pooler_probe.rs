//! Whether a PostgreSQL URL can carry sqlx's prepared statements. sqlx sends every statement
//! with parameters as a *named* prepared statement and reuses it on its connection; a
//! transaction-mode pooler that does not track prepared statements (PgBouncer before 1.21, or
//! with `max_prepared_statements = 0`) hands the next statement to another server connection,
//! where that name does not exist (or exists from another client). Without this probe the
//! first symptom is a `prepared statement "sqlx_s_1" does not exist` somewhere in the middle
//! of a migration or a webhook call; with it, the process refuses to start and says why.
//!
//! The probe, on two connections of its own: `a` runs a parameterised statement (prepared on
//! whatever server the pooler gave it), `b` opens a transaction (a pooler pins a server to it,
//! and reuses the one `a` just released first), then `a` runs its statement again. Directly
//! or through a session-mode pooler `a` keeps its server; a transaction-mode pooler that
//! tracks prepared statements prepares it again on the new server; one that does not fails
//! with the error the real work would have hit. The probe cannot be wrong in the refusing
//! direction: it refuses only on that error.

use std::time::Duration;

use sqlx::{AnyConnection, Connection, Executor};

/// The statement both runs of `a` execute.
const STATEMENT: &str = "SELECT CAST($1 AS INTEGER) + 1";
/// How long `a`'s second run may wait for a server (a pooler with one server connection per
/// database makes it wait for `b`'s transaction: the probe cannot tell then).
const WAIT: Duration = Duration::from_secs(3);

/// What to do about a pooler that cannot carry prepared statements.
pub const ADVICE: &str = "use the pooler's session mode (Supabase: port 5432 of the pooler \
     host, not 6543), PgBouncer 1.21+ with max_prepared_statements > 0, or the database's \
     direct URL";

/// The probe's answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Prepared statements survive a change of server connection (or there was none).
    Carries,
    /// The pooler lost the statement: the database's own words.
    Breaks(String),
    /// The probe could not tell (the reason); the store is used anyway.
    Unknown(String),
}

/// Whether `e` is PostgreSQL saying a named prepared statement is missing (26000) or already
/// exists (42P05): what a pooler that does not track them causes.
pub fn lost_statement(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "26000" || c == "42P05")
}

/// Runs the probe on `url` (a PostgreSQL URL), connecting within `connect_wait`. Connection
/// errors are `Unknown`: the pool opened next reports them with their real cause.
pub async fn probe(url: &str, connect_wait: Duration) -> Verdict {
    let both = async { tokio::try_join!(AnyConnection::connect(url), AnyConnection::connect(url)) };
    let (mut a, mut b) = match tokio::time::timeout(connect_wait, both).await {
        Ok(Ok(both)) => both,
        Ok(Err(e)) => return Verdict::Unknown(format!("cannot open the probe's connections: {e}")),
        Err(_) => return Verdict::Unknown(format!("no connection within {connect_wait:?}")),
    };
    let verdict = run(&mut a, &mut b).await;
    let _ = b.execute("ROLLBACK").await;
    let _ = tokio::join!(a.close(), b.close());
    verdict
}

async fn run(a: &mut AnyConnection, b: &mut AnyConnection) -> Verdict {
    let first = sqlx::query(STATEMENT).bind(1i32).execute(&mut *a).await;
    if let Some(v) = judge(first) {
        return v;
    }
    // Plain text (no parameters, so no prepared statement): a transaction that pins a server.
    if let Err(e) = b.execute("BEGIN").await.and(b.execute("SELECT 1").await) {
        return Verdict::Unknown(format!("cannot open the probe's transaction: {e}"));
    }
    match tokio::time::timeout(WAIT, sqlx::query(STATEMENT).bind(2i32).execute(&mut *a)).await {
        Ok(again) => judge(again).unwrap_or(Verdict::Carries),
        Err(_) => Verdict::Unknown(format!(
            "the second statement waited {WAIT:?} for a server connection (a pool of one?)"
        )),
    }
}

/// `None` when the statement ran.
fn judge<T>(r: Result<T, sqlx::Error>) -> Option<Verdict> {
    match r {
        Ok(_) => None,
        Err(e) if lost_statement(&e) => Some(Verdict::Breaks(e.to_string())),
        Err(e) => Some(Verdict::Unknown(format!(
            "the probe's statement failed: {e}"
        ))),
    }
}
