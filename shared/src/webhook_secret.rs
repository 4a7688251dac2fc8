//! A webhook secret when the user set none. In webhook mode on a public URL, bot-server
//! never runs without one: with no `WEBHOOK_SECRET` it generates 32 random bytes (64 hex
//! characters, within Telegram's `A-Z a-z 0-9 _ -`), keeps them in the store (`kv` row
//! [`KV_GENERATED_SECRET`]; the first instance to write wins, every other one reads the same)
//! and registers with them; the watchdog, sharing the store, reads the same secret for its
//! setWebhook calls, replays and probes. A configured `WEBHOOK_SECRET` always wins.
//!
//! The secret lives in the store beside the updates it guards: whoever can read the store can
//! read both.

use secrecy::SecretString;

use crate::store::{Db, StoreError};

/// The `kv` key of the generated secret.
pub const KV_GENERATED_SECRET: &str = "webhook.generated_secret";

/// The generated secret, if one was made.
pub async fn load(db: &Db) -> Result<Option<SecretString>, StoreError> {
    Ok(db
        .kv_get(KV_GENERATED_SECRET)
        .await?
        .filter(|s| valid(s))
        .map(SecretString::from))
}

/// The generated secret, made and kept now if there is none yet (the first writer wins).
pub async fn get_or_create(db: &Db) -> Result<SecretString, StoreError> {
    if let Some(s) = load(db).await? {
        return Ok(s);
    }
    let fresh = format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    );
    sqlx::query(
        "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
    )
    .bind(KV_GENERATED_SECRET)
    .bind(&fresh)
    .bind(crate::unix_now())
    .execute(&db.pool)
    .await?;
    load(db).await?.ok_or_else(|| {
        StoreError::Db(format!(
            "the kv row {KV_GENERATED_SECRET} is not a valid webhook secret (1-256 of A-Z a-z 0-9 _ -); delete it to have a new one generated"
        ))
    })
}

fn valid(s: &str) -> bool {
    (1..=256).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
