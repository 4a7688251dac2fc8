//! `watchdog replay-parked [--discard] [--update-id N ...]`: parked updates (their handler
//! failed for a permanent reason; the bot keeps them until a person acts) re-run or thrown
//! away through the bot's admin routes `POST /admin/parked/replay` and
//! `POST /admin/parked/discard` (Bearer ADMIN_TOKEN; body `{"update_ids": [..]}` to pick some,
//! none for all; answer `{"count": n}`).

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::checks::bot::describe;

/// Exit code when the bot refused the request or could not be reached.
pub(crate) const EXIT_REFUSED: u8 = 2;

/// What to do with the parked updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    /// Run their handlers again.
    Replay,
    /// Remove them for good.
    Discard,
}

impl Verb {
    fn path(self) -> &'static str {
        match self {
            Verb::Replay => "/admin/parked/replay",
            Verb::Discard => "/admin/parked/discard",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Verb::Replay => "queued again",
            Verb::Discard => "discarded",
        }
    }
}

/// Why the bot did not do it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ParkedError {
    /// The bot answered with an error status.
    #[error("the bot refused: {status} {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Its first line of text (the bot never echoes a token).
        body: String,
    },
    /// No answer.
    #[error("cannot reach the bot: {0}")]
    Unreachable(String),
    /// An answer without `count`.
    #[error("the bot answered 200 without a count: {0}")]
    BadAnswer(String),
}

#[derive(Deserialize)]
struct Answer {
    count: u64,
}

/// Calls the bot's route for `verb` on `bot_url`; returns how many updates it touched.
pub(crate) async fn call(
    http: &reqwest::Client,
    bot_url: &str,
    admin_token: &str,
    verb: Verb,
    update_ids: &[i64],
    timeout: Duration,
) -> Result<u64, ParkedError> {
    let url = format!("{}{}", bot_url.trim_end_matches('/'), verb.path());
    let mut req = http.post(url).bearer_auth(admin_token).timeout(timeout);
    if !update_ids.is_empty() {
        req = req.json(&json!({ "update_ids": update_ids }));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| ParkedError::Unreachable(describe(&e)))?;
    let status = resp.status();
    let text = tokio::time::timeout(timeout, resp.text())
        .await
        .map_err(|_| ParkedError::Unreachable("timed out reading the answer".into()))?
        .map_err(|e| ParkedError::Unreachable(describe(&e)))?;
    if !status.is_success() {
        let first = text.lines().next().unwrap_or_default();
        return Err(ParkedError::Refused {
            status: status.as_u16(),
            body: first
                .chars()
                .take(200)
                .collect::<String>()
                .replace(admin_token, "***"),
        });
    }
    serde_json::from_str::<Answer>(&text)
        .map(|a| a.count)
        .map_err(|e| ParkedError::BadAnswer(e.to_string()))
}

/// The command: prints the count and returns the exit code (0 done, 2 refused or
/// unreachable).
pub(crate) async fn command(
    bot_url: &str,
    admin_token: &str,
    verb: Verb,
    update_ids: &[i64],
    timeout: Duration,
) -> u8 {
    let http = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("watchdog: http client: {e}");
            return EXIT_REFUSED;
        }
    };
    match call(&http, bot_url, admin_token, verb, update_ids, timeout).await {
        Ok(n) => {
            println!("{n} parked update(s) {}", verb.done());
            0
        }
        Err(e) => {
            eprintln!("watchdog: {e}");
            EXIT_REFUSED
        }
    }
}
