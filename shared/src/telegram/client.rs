//! The one Bot API client both daemons use: timeouts on every call, exponential back-off with
//! jitter on 5xx and network errors, 429 `retry_after` waited out (up to a cap), no retry of
//! other 4xx, send pacing, and no token in any error text or log line.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use super::error::TelegramError;
use super::limiter::{ChatKey, SendLimiter};
use super::types::{BotUser, Envelope, SetWebhook, WebhookInfo};
use crate::config::TelegramConfig;
use crate::redact::Redactor;

/// The `chat_id` of serialized parameters, for the per-chat pacing (a number or an
/// `@username`).
pub(super) fn chat_id_of(body: &[u8]) -> Option<ChatKey> {
    #[derive(serde::Deserialize)]
    struct ChatOf {
        #[serde(default)]
        chat_id: Option<Value>,
    }
    serde_json::from_slice::<ChatOf>(body)
        .ok()
        .and_then(|c| c.chat_id)
        .and_then(|v| ChatKey::of(&v))
}

/// Methods that send messages and so are paced by Telegram's limits.
pub(super) fn is_send(method: &str) -> bool {
    let m = method.to_ascii_lowercase();
    m.starts_with("send") && m != "sendchataction"
        || m.starts_with("forward")
        || m.starts_with("copy")
}

/// Running totals a dashboard can read without a metrics scrape.
#[derive(Debug, Default)]
pub struct ClientStats {
    /// Calls that got an answer or failed, every attempt counted.
    pub requests: AtomicU64,
    /// Attempts that failed (any kind).
    pub errors: AtomicU64,
    /// 429 answers seen.
    pub rate_limited: AtomicU64,
    /// Latency of the most recent attempt, in microseconds.
    pub last_latency_us: AtomicU64,
}

/// One HTTP answer of the Bot API (or of whatever stands in front of it).
pub(super) struct Answer {
    pub status: u16,
    /// A `Retry-After` header, in seconds.
    pub header_retry: Option<u64>,
    pub body: bytes::Bytes,
}

/// A Bot API client. Cheap to clone.
#[derive(Clone)]
pub struct TelegramClient {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    http: reqwest::Client,
    /// `<api_url>/bot<token>/` — holds the token, so never printed.
    prefix: SecretString,
    pub(super) cfg: TelegramConfig,
    pub(super) redactor: Redactor,
    pub(super) limiter: Option<SendLimiter>,
    stats: ClientStats,
    /// Parsed method URLs (they hold the token: never printed), so a call does not parse
    /// its URL again; at most [`URL_CACHE_MAX`] methods.
    urls: std::sync::RwLock<std::collections::HashMap<String, reqwest::Url>>,
}

/// Methods whose URL is kept parsed.
const URL_CACHE_MAX: usize = 64;

impl std::fmt::Debug for TelegramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramClient")
            .field("api_url", &self.inner.cfg.api_url.as_str())
            .finish_non_exhaustive()
    }
}

impl TelegramClient {
    /// A client for these settings. Building the HTTP client can only fail on a broken TLS setup.
    pub fn new(cfg: TelegramConfig) -> Result<Self, TelegramError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5).min(cfg.request_timeout))
            .pool_idle_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| TelegramError::Network {
                method: "client".into(),
                message: e.without_url().to_string(),
            })?;
        let prefix = SecretString::from(format!(
            "{}/bot{}/",
            cfg.api_url.as_str().trim_end_matches('/'),
            cfg.token.expose_secret()
        ));
        let redactor = Redactor::new([cfg.token.clone()]);
        let limiter = cfg.rate.map(SendLimiter::new);
        Ok(TelegramClient {
            inner: Arc::new(Inner {
                http,
                prefix,
                cfg,
                redactor,
                limiter,
                stats: ClientStats::default(),
                urls: Default::default(),
            }),
        })
    }

    /// Paces sends at `1 / instances` of the configured limits (several bot-servers share
    /// one bot's limits at Telegram; see bot-server's fleet heartbeat).
    pub fn set_fleet_share(&self, instances: u32) {
        if let Some(l) = &self.inner.limiter {
            l.set_share(instances);
        }
    }

    /// The same client making a single attempt per call (for callers with their own retry
    /// loop, like webhook registration). Shares the connection pool.
    pub fn single_attempt(&self) -> TelegramClient {
        let mut cfg = self.inner.cfg.clone();
        cfg.max_attempts = 1;
        TelegramClient {
            inner: Arc::new(Inner {
                http: self.inner.http.clone(),
                prefix: self.inner.prefix.clone(),
                cfg,
                redactor: self.inner.redactor.clone(),
                limiter: None,
                stats: ClientStats::default(),
                urls: Default::default(),
            }),
        }
    }

    /// The redactor that knows this client's token, for callers' own messages.
    pub fn redactor(&self) -> &Redactor {
        &self.inner.redactor
    }

    /// Running totals of this client.
    pub fn stats(&self) -> &ClientStats {
        &self.inner.stats
    }

    /// Calls `method` with `params`, retrying as the module docs say, and decodes `result`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &impl Serialize,
    ) -> Result<T, TelegramError> {
        self.call_with_timeout(method, params, self.inner.cfg.request_timeout)
            .await
    }

    /// [`Self::call`] with a per-attempt timeout of its own (long polls need more).
    pub async fn call_with_timeout<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &impl Serialize,
        timeout: Duration,
    ) -> Result<T, TelegramError> {
        let body = encode(method, params)?;
        // Inside a handler's reply slot: a held call goes out first, in order.
        if let Some(held) = super::reply::before_call() {
            held.send().await?;
        }
        self.send_body(method, body, timeout).await
    }

    /// Calls `method` whose result the caller does not read. Inside a handler run by
    /// bot-server with `webhook.reply_in_answer`, the first such call may be held and ride on
    /// the webhook answer instead ([`super::reply`]).
    pub async fn send_ignoring_result(
        &self,
        method: &'static str,
        params: &impl Serialize,
    ) -> Result<(), TelegramError> {
        let body = encode(method, params)?;
        match super::reply::offer(self, method, &body) {
            super::reply::Offer::Held => return Ok(()),
            super::reply::Offer::SendAfter(held) => held.send().await?,
            super::reply::Offer::Send => {}
        }
        self.send_held(method, body, false).await
    }

    /// Sends serialized parameters, not reading the result (a held reply going out). `paced`:
    /// its send slot was taken when it was held (see [`Self::take_send_slot`]).
    pub(super) async fn send_held(
        &self,
        method: &str,
        body: bytes::Bytes,
        paced: bool,
    ) -> Result<(), TelegramError> {
        let _: serde::de::IgnoredAny = self
            .send_body_paced(method, body, self.inner.cfg.request_timeout, paced)
            .await?;
        Ok(())
    }

    /// Takes the send slot `method` to the chat in `body` needs, if it is free now (always
    /// true for a method that is not paced, or without pacing).
    pub(super) fn take_send_slot(&self, method: &str, body: &[u8]) -> bool {
        match &self.inner.limiter {
            Some(l) if is_send(method) => l.try_acquire(chat_id_of(body).as_ref()),
            _ => true,
        }
    }

    /// Paces and sends serialized parameters, retrying as the module docs say.
    async fn send_body<T: DeserializeOwned>(
        &self,
        method: &str,
        body: bytes::Bytes,
        timeout: Duration,
    ) -> Result<T, TelegramError> {
        self.send_body_paced(method, body, timeout, false).await
    }

    /// [`Self::send_body`]; `paced`: the send slot is already taken.
    async fn send_body_paced<T: DeserializeOwned>(
        &self,
        method: &str,
        body: bytes::Bytes,
        timeout: Duration,
        paced: bool,
    ) -> Result<T, TelegramError> {
        if !paced
            && is_send(method)
            && let Some(l) = &self.inner.limiter
        {
            l.acquire(chat_id_of(&body).as_ref()).await;
        }
        let mut attempt = 1u32;
        loop {
            let started = Instant::now();
            let outcome = self.attempt::<T>(method, body.clone(), timeout).await;
            self.record(method, started.elapsed(), outcome.as_ref().map(|_| ()));
            let err = match outcome {
                // A result of an unexpected shape is the caller's to see, not retried.
                Ok(decoded) => return decoded,
                Err(e) => e,
            };
            // Flood control for this chat: every send to it waits, not only this one.
            if let TelegramError::RetryAfter { retry_after, .. } = &err
                && is_send(method)
                && let (Some(l), Some(chat)) = (&self.inner.limiter, chat_id_of(&body))
            {
                l.hold(&chat, Duration::from_secs(*retry_after));
            }
            let Some(wait) = self.retry_wait(method, attempt, &err) else {
                return Err(err);
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// How long to wait before attempt `attempt + 1` after `err`, or `None` to give up: the
    /// last attempt, a 429 asking for more than `max_retry_after`, or an error waiting does
    /// not cure.
    pub(super) fn retry_wait(
        &self,
        method: &str,
        attempt: u32,
        err: &TelegramError,
    ) -> Option<Duration> {
        let cfg = &self.inner.cfg;
        if attempt >= cfg.max_attempts {
            return None;
        }
        match err {
            TelegramError::RetryAfter { retry_after, .. } => {
                let wait = Duration::from_secs(*retry_after);
                if wait > cfg.max_retry_after {
                    return None;
                }
                tracing::warn!(method, retry_after, "Bot API asked to slow down; waiting");
                Some(wait)
            }
            e if e.is_retryable() => {
                let d = crate::backoff::jittered(cfg.backoff_base, cfg.backoff_max, attempt);
                tracing::warn!(method, attempt, error = %e, delay_ms = d.as_millis() as u64, "Bot API call failed; retrying");
                Some(d)
            }
            _ => None,
        }
    }

    /// One HTTP exchange, classified; the inner result is the decoding of a successful
    /// answer's `result` into `T`.
    async fn attempt<T: DeserializeOwned>(
        &self,
        method: &str,
        body: bytes::Bytes,
        timeout: Duration,
    ) -> Result<Result<T, TelegramError>, TelegramError> {
        let answer = self
            .exchange(method, "application/json", body, timeout)
            .await?;
        let raw = self.judge(method, &answer)?;
        Ok(decode(method, raw, &self.inner.redactor))
    }

    /// One HTTP exchange: POSTs `body` as `content_type`, returns what came back.
    pub(super) async fn exchange(
        &self,
        method: &str,
        content_type: &str,
        body: bytes::Bytes,
        timeout: Duration,
    ) -> Result<Answer, TelegramError> {
        let url = self.url_for(method)?;
        let sent = self
            .inner
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .timeout(timeout)
            .send()
            .await;
        let resp = sent.map_err(|e| self.transport_error(method, e))?;
        let status = resp.status().as_u16();
        let header_retry = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(method, e))?;
        Ok(Answer {
            status,
            header_retry,
            body,
        })
    }

    /// What an answer says: the raw `result` of an `ok` one, else the failure (a body that is
    /// not the envelope is a 5xx from an intermediary, or an invalid response).
    pub(super) fn judge<'a>(
        &self,
        method: &str,
        answer: &'a Answer,
    ) -> Result<&'a str, TelegramError> {
        let (status, bytes) = (answer.status, &answer.body);
        let env: Envelope = match serde_json::from_slice(bytes) {
            Ok(env) => env,
            Err(_) => {
                let snippet: String = String::from_utf8_lossy(bytes).chars().take(200).collect();
                let message = self
                    .inner
                    .redactor
                    .redact(&format!("HTTP {status}: {snippet}"));
                return Err(if status >= 500 {
                    TelegramError::Api {
                        method: method.into(),
                        code: status,
                        description: message,
                    }
                } else {
                    TelegramError::InvalidResponse {
                        method: method.into(),
                        message,
                    }
                });
            }
        };
        if env.ok {
            return Ok(env.result.map_or("null", serde_json::value::RawValue::get));
        }
        let code = env.error_code.unwrap_or(status);
        let retry_after = env
            .parameters
            .and_then(|p| p.retry_after)
            .or(answer.header_retry);
        if code == 429 {
            return Err(TelegramError::RetryAfter {
                method: method.into(),
                retry_after: retry_after.unwrap_or(1),
            });
        }
        let description = self
            .inner
            .redactor
            .redact(env.description.as_deref().unwrap_or("no description"));
        Err(TelegramError::Api {
            method: method.into(),
            code,
            description,
        })
    }

    /// The URL of `method`, parsed once.
    fn url_for(&self, method: &str) -> Result<reqwest::Url, TelegramError> {
        let cache = &self.inner.urls;
        if let Some(u) = cache.read().ok().and_then(|m| m.get(method).cloned()) {
            return Ok(u);
        }
        let url = reqwest::Url::parse(&format!("{}{}", self.inner.prefix.expose_secret(), method))
            .map_err(|e| TelegramError::Network {
                method: method.into(),
                message: format!("invalid Bot API URL for this method: {e}"),
            })?;
        if let Ok(mut m) = cache.write()
            && m.len() < URL_CACHE_MAX
        {
            m.insert(method.to_string(), url.clone());
        }
        Ok(url)
    }

    fn transport_error(&self, method: &str, e: reqwest::Error) -> TelegramError {
        if e.is_timeout() {
            return TelegramError::Timeout {
                method: method.into(),
            };
        }
        // reqwest prints the URL, which holds the token: drop it, keep the causes, then
        // redact whatever is left in case a cause quotes the URL too.
        let e = e.without_url();
        let mut message = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            message.push_str(": ");
            message.push_str(&c.to_string());
            cause = c.source();
        }
        TelegramError::Network {
            method: method.into(),
            message: self.inner.redactor.redact(&message),
        }
    }

    pub(super) fn record(&self, method: &str, took: Duration, outcome: Result<(), &TelegramError>) {
        let st = &self.inner.stats;
        st.requests.fetch_add(1, Ordering::Relaxed);
        st.last_latency_us
            .store(took.as_micros() as u64, Ordering::Relaxed);
        let label = match outcome {
            Ok(_) => "ok",
            Err(e) => {
                st.errors.fetch_add(1, Ordering::Relaxed);
                if matches!(e, TelegramError::RetryAfter { .. }) {
                    st.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
                e.kind()
            }
        };
        let method = canonical_method(method);
        metrics::counter!("telbot_telegram_requests_total", "method" => method, "outcome" => label)
            .increment(1);
        metrics::histogram!("telbot_telegram_request_duration_seconds", "method" => method)
            .record(took.as_secs_f64());
    }

    /// `getMe`: is the token valid?
    pub async fn get_me(&self) -> Result<BotUser, TelegramError> {
        self.call("getMe", &serde_json::json!({})).await
    }

    /// `getWebhookInfo`.
    pub async fn get_webhook_info(&self) -> Result<WebhookInfo, TelegramError> {
        self.call("getWebhookInfo", &serde_json::json!({})).await
    }

    /// `setWebhook`; with a certificate, as `multipart/form-data` uploading it.
    pub async fn set_webhook(&self, params: &SetWebhook) -> Result<bool, TelegramError> {
        match &params.certificate {
            Some(cert) => self.set_webhook_multipart(params, cert).await,
            None => self.call("setWebhook", params).await,
        }
    }

    /// The per-attempt timeout of an ordinary call.
    pub(super) fn request_timeout(&self) -> Duration {
        self.inner.cfg.request_timeout
    }

    /// `deleteWebhook`; pending updates are kept unless `drop_pending` is set.
    pub async fn delete_webhook(&self, drop_pending: bool) -> Result<bool, TelegramError> {
        self.call(
            "deleteWebhook",
            &serde_json::json!({ "drop_pending_updates": drop_pending }),
        )
        .await
    }

    /// `getUpdates` as raw JSON updates (so kinds this build cannot parse survive intact).
    /// `offset` confirms every update below it.
    pub async fn get_updates(
        &self,
        offset: Option<i64>,
        limit: u32,
        poll: Duration,
        allowed_updates: Option<&[String]>,
    ) -> Result<Vec<Value>, TelegramError> {
        let mut p = serde_json::json!({ "limit": limit, "timeout": poll.as_secs() });
        if let Some(o) = offset {
            p["offset"] = o.into();
        }
        if let Some(a) = allowed_updates {
            p["allowed_updates"] = serde_json::json!(a);
        }
        self.call_with_timeout("getUpdates", &p, poll + self.inner.cfg.request_timeout)
            .await
    }

    /// `sendMessage` with plain text.
    /// The sent message is not read (nothing is built from it).
    pub async fn send_message(&self, chat_id: i64, text: &str) -> Result<(), TelegramError> {
        #[derive(Serialize)]
        struct Params<'a> {
            chat_id: i64,
            text: &'a str,
        }
        self.send_ignoring_result("sendMessage", &Params { chat_id, text })
            .await
    }
}

/// Parameters serialized once, sent as they are by every attempt.
fn encode(method: &str, params: &impl Serialize) -> Result<bytes::Bytes, TelegramError> {
    serde_json::to_vec(params)
        .map(bytes::Bytes::from)
        .map_err(|e| TelegramError::InvalidResponse {
            method: method.to_string(),
            message: format!("cannot encode parameters: {e}"),
        })
}

fn decode<T: DeserializeOwned>(method: &str, raw: &str, r: &Redactor) -> Result<T, TelegramError> {
    serde_json::from_str(raw).map_err(|e| TelegramError::InvalidResponse {
        method: method.into(),
        message: r.redact(&format!("unexpected result shape: {e}")),
    })
}

/// Describes the client's metrics to the installed recorder (call once after installing it).
pub fn describe_metrics() {
    metrics::describe_counter!(
        "telbot_telegram_requests_total",
        "Bot API calls by method and outcome."
    );
    metrics::describe_histogram!(
        "telbot_telegram_request_duration_seconds",
        metrics::Unit::Seconds,
        "Bot API call latency."
    );
}

/// Metric label for a method: camelCase as Telegram documents it, bounded to known names.
fn canonical_method(method: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "getMe",
        "getWebhookInfo",
        "setWebhook",
        "deleteWebhook",
        "getUpdates",
        "sendMessage",
        "sendChatAction",
        "answerCallbackQuery",
        "editMessageText",
        "setMyCommands",
    ];
    KNOWN
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(method))
        .unwrap_or("other")
}
