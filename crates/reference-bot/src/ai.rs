//! /ask's outside dependency: an OpenAI-compatible chat endpoint behind timeout + retry +
//! circuit breaker, with a fallback answer when it is down or not configured.

use std::sync::Mutex;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::time::Instant;

use telbot_shared::health::{CheckStatus, Status};

use crate::settings::AiConfig;

/// The pause between attempts of one question: 200 ms, 400 ms, … at most 2 s.
const RETRY: telbot_shared::backoff::Backoff =
    telbot_shared::backoff::Backoff::new(Duration::from_millis(200), Duration::from_secs(2));

/// Breaker state, as `/health`'s `checks.openai.circuit` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    /// Calls go through.
    Closed,
    /// Calls are refused until the open period ends.
    Open,
    /// One trial call is allowed.
    HalfOpen,
}

impl Circuit {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Circuit::Closed => "closed",
            Circuit::Open => "open",
            Circuit::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

/// The /ask client.
#[derive(Debug)]
pub struct Assistant {
    cfg: AiConfig,
    http: reqwest::Client,
    breaker: Mutex<Breaker>,
}

impl Assistant {
    /// A client for `cfg` (disabled when `base_url` is empty).
    pub fn new(cfg: AiConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .unwrap_or_default();
        Assistant {
            cfg,
            http,
            breaker: Mutex::new(Breaker {
                failures: 0,
                open_until: None,
            }),
        }
    }

    /// Whether an endpoint is configured.
    pub fn enabled(&self) -> bool {
        self.cfg.enabled()
    }

    /// `/health`'s `checks.openai`: degraded while the circuit is not closed; none when no
    /// endpoint is configured.
    pub fn health(&self) -> Option<CheckStatus> {
        if !self.enabled() {
            return None;
        }
        let c = self.circuit();
        Some(CheckStatus {
            status: if c == Circuit::Closed {
                Status::Ok
            } else {
                Status::Degraded
            },
            detail: (c != Circuit::Closed)
                .then(|| "assistant failing; /ask answers the fallback text".into()),
            circuit: Some(c.as_str().to_string()),
        })
    }

    /// The breaker's state now.
    pub fn circuit(&self) -> Circuit {
        let b = self.breaker.lock().unwrap_or_else(|p| p.into_inner());
        match b.open_until {
            Some(t) if Instant::now() < t => Circuit::Open,
            Some(_) => Circuit::HalfOpen,
            None => Circuit::Closed,
        }
    }

    /// An answer to `question`: the model's, or the fallback text.
    pub async fn ask(&self, question: &str) -> String {
        if !self.enabled() || self.circuit() == Circuit::Open {
            return self.cfg.fallback_text.clone();
        }
        for attempt in 1..=self.cfg.max_attempts.max(1) {
            match self.call(question).await {
                Ok(answer) => {
                    self.record(true);
                    return answer;
                }
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "assistant call failed");
                    if self.record(false) == Circuit::Open {
                        break;
                    }
                    tokio::time::sleep(RETRY.delay(attempt)).await;
                }
            }
        }
        self.cfg.fallback_text.clone()
    }

    fn record(&self, ok: bool) -> Circuit {
        let mut b = self.breaker.lock().unwrap_or_else(|p| p.into_inner());
        if ok {
            b.failures = 0;
            b.open_until = None;
            return Circuit::Closed;
        }
        b.failures += 1;
        let half_open = b.open_until.is_some();
        if half_open || b.failures >= self.cfg.breaker_failures.max(1) {
            b.open_until = Some(Instant::now() + self.cfg.breaker_open_for);
            metrics::counter!("telbot_ai_circuit_opened_total").increment(1);
            return Circuit::Open;
        }
        Circuit::Closed
    }

    async fn call(&self, question: &str) -> Result<String, String> {
        let url = format!(
            "{}/chat/completions",
            self.cfg.base_url.trim_end_matches('/')
        );
        let mut req = self.http.post(url).json(&json!({
            "model": self.cfg.model,
            "messages": [{"role": "user", "content": question}],
        }));
        if let Some(k) = &self.cfg.api_key {
            req = req.bearer_auth(k.expose_secret());
        }
        let resp = req.send().await.map_err(|e| e.without_url().to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status().as_u16()));
        }
        let v: Value = resp.json().await.map_err(|e| e.without_url().to_string())?;
        v.pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| "answer without choices[0].message.content".to_string())
    }
}
