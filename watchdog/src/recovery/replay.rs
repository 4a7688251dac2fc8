//! Handing drained updates to the bot: POST to its webhook with the secret header, one queue's
//! updates strictly in update_id order, queues in parallel (bounded). The queue is the one the
//! bot's inbox uses ([`telbot_shared::queue_key::classify`]: per chat for messages, per user
//! for callback queries, …). An update counts as replayed only when the bot answered 200 (it
//! dedups by update_id, so a repeat is harmless). A Bot API method in the bot's 2xx answer
//! (bot-server's `webhook.reply_in_answer`) is executed, as Telegram does with a webhook's
//! answer, and recorded in the store as carried ([`telbot_shared::stored_reply`]), so a
//! webhook redelivery of an update the drain left unconfirmed is not answered with it again.
//! A reply whose call failed for a transient reason leaves its update unreplayed: Telegram
//! keeps it and delivers it to the webhook later, which answers the stored reply then.

use std::collections::BTreeMap;

use secrecy::ExposeSecret;
use serde_json::Value;
use telbot_shared::backoff::jittered as backoff_delay;

use crate::checks::bot::describe;
use crate::context::Ctx;

/// The header Telegram sends the secret in.
pub(crate) const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// What a batch replay achieved.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BatchOutcome {
    /// Updates the bot answered 200 to.
    pub replayed: u64,
    /// The lowest update_id that was not replayed (failed, or behind a failure in its chat).
    pub first_unreplayed: Option<i64>,
    /// Why the first failure failed.
    pub error: Option<String>,
}

/// The queue an update belongs to, for ordering: the inbox's own key, so a replay keeps
/// exactly the order the bot keeps.
pub(crate) fn queue_key(update: &Value) -> String {
    telbot_shared::queue_key::classify(update).1
}

pub(crate) use telbot_shared::recovery::run::update_id;

/// Replays one batch (already in update_id order from getUpdates).
pub(crate) async fn batch(ctx: &Ctx, updates: &[Value]) -> BatchOutcome {
    let mut chats: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for u in updates {
        chats.entry(queue_key(u)).or_default().push(u);
    }
    for q in chats.values_mut() {
        q.sort_by_key(|u| update_id(u).unwrap_or(i64::MAX));
    }
    let concurrency = ctx.cfg.recovery.replay_concurrency.max(1);
    let permits = tokio::sync::Semaphore::new(concurrency);
    let queues = chats.into_values().map(|queue| {
        let permits = &permits;
        async move {
            let _permit = permits.acquire().await.ok();
            chat_queue(ctx, queue).await
        }
    });
    let results: Vec<(u64, Option<i64>, Option<String>)> = futures::future::join_all(queues).await;
    let mut out = BatchOutcome::default();
    for (n, failed, err) in results {
        out.replayed += n;
        if let Some(id) = failed
            && out.first_unreplayed.is_none_or(|f| id < f)
        {
            out.first_unreplayed = Some(id);
            out.error = err;
        }
    }
    out
}

async fn chat_queue(ctx: &Ctx, queue: Vec<&Value>) -> (u64, Option<i64>, Option<String>) {
    let mut n = 0;
    for u in queue {
        match one(ctx, u).await {
            Ok(()) => n += 1,
            // Keep the chat's order: nothing after a failure is sent.
            Err(e) => return (n, Some(update_id(u).unwrap_or(i64::MIN)), Some(e)),
        }
    }
    (n, None, None)
}

async fn one(ctx: &Ctx, update: &Value) -> Result<(), String> {
    let attempts = ctx.cfg.recovery.replay_attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        let mut req = ctx
            .http
            .post(&ctx.cfg.webhook.replay_url)
            .json(update)
            .timeout(ctx.cfg.http_timeout);
        if let Some(s) = &ctx.webhook_secret() {
            req = req.header(SECRET_HEADER, s.expose_secret());
        }
        match req.send().await {
            Ok(r) if r.status().as_u16() == 200 => return run_answer(ctx, update, r).await,
            Ok(r) => {
                last = format!(
                    "the bot answered {} to update {}",
                    r.status().as_u16(),
                    update_id(update).unwrap_or_default()
                )
            }
            Err(e) => last = format!("cannot reach the bot's webhook: {}", describe(&e)),
        }
        if attempt < attempts {
            tokio::time::sleep(backoff_delay(
                std::time::Duration::from_millis(200),
                std::time::Duration::from_secs(2),
                attempt,
            ))
            .await;
        }
    }
    Err(last)
}

/// Runs the Bot API method a 200 answer carries (`{"method": …, params}`), as Telegram runs a
/// webhook's answer; its result is not read. An answer without one is the usual empty 200.
/// `Err` when the call failed for a transient reason: the update counts as not replayed, so
/// Telegram keeps it and a webhook redelivery carries the stored reply.
async fn run_answer(ctx: &Ctx, update: &Value, r: reqwest::Response) -> Result<(), String> {
    let id = update_id(update).unwrap_or_default();
    let Ok(body) = r.bytes().await else {
        // The bot stored it (200); a body cut off is the bot's reply lost on the way: let
        // Telegram deliver the update again.
        return Err(format!("the bot's answer to update {id} was cut off"));
    };
    let Some((method, params)) = std::str::from_utf8(&body)
        .ok()
        .and_then(telbot_shared::stored_reply::as_call)
    else {
        return Ok(());
    };
    if !telbot_shared::telegram::reply::is_reply(&method) {
        tracing::warn!(
            update_id = id,
            method = %method,
            "the bot's answer to a replayed update carries a method that is no reply; not run (only send*, answer*, editMessage*, copy/forward, reactions are)"
        );
        return Ok(());
    }
    match ctx.tg.call::<serde::de::IgnoredAny>(&method, &params).await {
        Ok(_) => {}
        Err(e) if e.is_transient() => {
            tracing::warn!(update_id = id, method = %method, error = %e, "the bot's reply in its answer to a replayed update failed; Telegram delivers the update again");
            return Err(format!(
                "the reply to update {id} ({method}) failed: {}; Telegram delivers it again",
                ctx.redact(&e.to_string())
            ));
        }
        // Telegram's own run of a webhook answer fails the same way, and nobody learns of
        // it: carried (a redelivery would only fail again).
        Err(e) => {
            tracing::warn!(update_id = id, method = %method, error = %e, "the bot's reply in its answer to a replayed update was refused")
        }
    }
    if let Err(e) = telbot_shared::stored_reply::mark_carried(ctx.store.db(), id).await {
        tracing::warn!(update_id = id, error = %e, "cannot record a replayed reply as carried; a webhook redelivery of this update would send it again");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn groups_by_the_inbox_queue_key() {
        // A message and a callback query from the same chat but different users: two queues.
        let msg = json!({"update_id": 1, "message": {"chat": {"id": 5}, "from": {"id": 8}}});
        let cb = json!({"update_id": 2, "callback_query": {"id": "q", "from": {"id": 7}, "message": {"chat": {"id": 5}}}});
        assert_ne!(queue_key(&msg), queue_key(&cb));
        // The same user's callback queries from two chats: one queue.
        let cb_other_chat = json!({"update_id": 3, "callback_query": {"id": "r", "from": {"id": 7}, "message": {"chat": {"id": 6}}}});
        assert_eq!(queue_key(&cb), queue_key(&cb_other_chat));
        // Exactly what the inbox uses.
        for u in [&msg, &cb, &cb_other_chat] {
            assert_eq!(queue_key(u), telbot_shared::queue_key::classify(u).1);
        }
        assert_eq!(
            queue_key(&json!({"update_id": 1, "my_chat_member": {"chat": {"id": -9}}})),
            "c-9"
        );
    }
}
