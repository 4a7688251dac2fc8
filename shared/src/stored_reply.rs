//! The reply stored with an inbox row (bot-server's `webhook.reply_in_answer`), and who has
//! carried it.
//!
//! bot-server commits a handler's held reply with the update's completion and answers the
//! webhook with it; a *webhook* redelivery of the same update (Telegram never got that answer)
//! is answered with the stored copy again, so the reply goes out once. The column is `NULL`
//! once nothing is left to carry: the handler's calls went out as requests, or the stored
//! reply was carried by another path:
//!
//! - the watchdog's replay executed it ([`mark_carried`]): a later webhook redelivery of an
//!   update the drain left unconfirmed is answered empty;
//! - bot-server met the update again through getUpdates (its polling fallback, the dashboard's
//!   recovery), where no answer carries anything: it [`take`]s the reply and sends it as a
//!   request, or [`put_back`] when the request failed, so a later path carries it.
//!
//! Clearing is a compare-and-clear `UPDATE`, so two paths racing for one reply cannot both
//! get it.

use crate::store::{Db, StoreError};

/// Records that the reply stored with `update_id` was carried (executed) elsewhere, so no
/// redelivery answers it again. True when there was one to clear.
pub async fn mark_carried(db: &Db, update_id: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE inbox SET reply = NULL WHERE update_id = $1 AND reply IS NOT NULL")
        .bind(update_id)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Takes the reply stored with a handled `update_id` for sending it as a request: from now on
/// no webhook answer carries it. `None` when there is none (or the update is still pending).
pub async fn take(db: &Db, update_id: i64) -> Result<Option<String>, StoreError> {
    let stored: Option<(Option<String>,)> =
        sqlx::query_as("SELECT reply FROM inbox WHERE update_id = $1 AND status <> 0")
            .bind(update_id)
            .fetch_optional(&db.pool)
            .await?;
    let Some((Some(reply),)) = stored else {
        return Ok(None);
    };
    // Compare and clear: of two paths taking it at once, one clears it and gets it.
    let r = sqlx::query("UPDATE inbox SET reply = NULL WHERE update_id = $1 AND reply = $2")
        .bind(update_id)
        .bind(&reply)
        .execute(&db.pool)
        .await?;
    Ok((r.rows_affected() == 1).then_some(reply))
}

/// Gives back a reply [`take`]n whose request failed, so the next path (a redelivery, the next
/// poll) carries it.
pub async fn put_back(db: &Db, update_id: i64, reply: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE inbox SET reply = $2 WHERE update_id = $1 AND reply IS NULL")
        .bind(update_id)
        .bind(reply)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// A stored reply as a Bot API call: its method and the parameters without `method`.
pub fn as_call(reply: &str) -> Option<(String, serde_json::Map<String, serde_json::Value>)> {
    let serde_json::Value::Object(mut params) = serde_json::from_str(reply).ok()? else {
        return None;
    };
    let serde_json::Value::String(method) = params.remove("method")? else {
        return None;
    };
    Some((method, params))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    async fn db_with(dir: &tempfile::TempDir, status: i64, reply: Option<&str>) -> Db {
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let cfg = crate::config::StoreConfig {
            url: secrecy::SecretString::from(url),
            backup_dir: std::path::PathBuf::new(),
            backup_keep: 1,
            backup_max_age: std::time::Duration::from_secs(3600),
            migrate_url: None,
            read_url: None,
            backend: crate::config::Backend::Sqlite,
            data_dir: dir.path().to_path_buf(),
            max_connections: 2,
            acquire_timeout: std::time::Duration::from_secs(5),
            sqlite_synchronous: "normal".into(),
        };
        let db = crate::store::connect(&cfg).await.unwrap();
        sqlx::query(
            "INSERT INTO inbox (update_id, kind, queue_key, payload, received_at, status, reply) \
             VALUES (7, 'message', 'c1', '{}', 0, $1, $2)",
        )
        .bind(status)
        .bind(reply)
        .execute(&db.pool)
        .await
        .unwrap();
        db
    }

    #[tokio::test]
    async fn a_reply_is_taken_once_and_can_be_given_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = db_with(&dir, 1, Some(r#"{"method":"sendMessage","chat_id":1}"#)).await;
        let row: (i64, Option<String>) = sqlx::query_as("SELECT status, reply FROM inbox")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(row.0, 1, "{row:?}");
        let r = take(&db, 7).await.unwrap().unwrap();
        assert_eq!(take(&db, 7).await.unwrap(), None, "taken once");
        put_back(&db, 7, &r).await.unwrap();
        assert!(mark_carried(&db, 7).await.unwrap());
        assert!(!mark_carried(&db, 7).await.unwrap());
        assert_eq!(take(&db, 7).await.unwrap(), None);
        let (m, p) = as_call(&r).unwrap();
        assert_eq!(
            (m.as_str(), p["chat_id"].as_i64()),
            ("sendMessage", Some(1))
        );
    }

    #[tokio::test]
    async fn a_pending_update_keeps_its_reply_out_of_reach() {
        let dir = tempfile::tempdir().unwrap();
        let db = db_with(&dir, 0, Some(r#"{"method":"sendMessage"}"#)).await;
        assert_eq!(take(&db, 7).await.unwrap(), None);
    }
}
