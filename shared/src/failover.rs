//! The webhook failover record (`kv` row [`KV_FAILOVER`]): the watchdog writes it when it points
//! the webhook at a backup deployment (`webhook.backup_urls`) and removes it when it moves the
//! webhook back. bot-server reads it before registering its own URL: a primary that restarts
//! while failed over must not take the webhook back to a front that may still be broken —
//! failback is the watchdog's, after the primary has been healthy for `webhook.failback_after`.

use serde::{Deserialize, Serialize};

use crate::store::{Db, StoreError};

/// The `kv` key of the record.
pub const KV_FAILOVER: &str = "watchdog.failover";

/// The webhook points at a backup deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedOver {
    /// The backup's webhook URL.
    pub url: String,
    /// When it was moved there (unix seconds).
    pub since: i64,
    /// Since when the primary has been healthy without a break.
    pub primary_ok_since: Option<i64>,
}

/// The failover in force, if any.
pub async fn load(db: &Db) -> Result<Option<FailedOver>, StoreError> {
    Ok(db
        .kv_get(KV_FAILOVER)
        .await?
        .and_then(|v| serde_json::from_str(&v).ok()))
}
