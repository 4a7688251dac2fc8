//! The Telegram client against telegram-sim: what is retried, what is not, 429 waits, and
//! that no error text carries the token.

use std::time::{Duration, Instant};

use telbot_shared::config::TelegramConfig;
use telbot_shared::telegram::{TelegramClient, TelegramError};
use telegram_sim::{ApiFault, Sim};

async fn setup() -> (Sim, TelegramClient) {
    let sim = Sim::builder().start().await.unwrap();
    let mut cfg = TelegramConfig::for_url(&sim.base_url(), &sim.token()).unwrap();
    cfg.backoff_base = Duration::from_millis(20);
    cfg.rate = None;
    (sim, TelegramClient::new(cfg).unwrap())
}

#[tokio::test]
async fn a_5xx_is_retried_with_back_off_until_it_succeeds() {
    let (sim, api) = setup().await;
    sim.fail_method("getMe", ApiFault::Status500, 2);
    let me = api.get_me().await.unwrap();
    assert!(me.id > 0);
    assert_eq!(sim.calls_to("getMe").len(), 3);
}

#[tokio::test]
async fn a_5xx_on_every_attempt_gives_up_after_max_attempts() {
    let (sim, api) = setup().await;
    sim.fail_method("getMe", ApiFault::Status500, 10);
    let err = api.get_me().await.unwrap_err();
    assert!(
        matches!(err, TelegramError::Api { code: 500, .. }),
        "{err:?}"
    );
    assert_eq!(sim.calls_to("getMe").len(), 3);
}

#[tokio::test]
async fn another_4xx_is_never_retried() {
    let (sim, api) = setup().await;
    let err = api.send_message(1, "").await.unwrap_err();
    assert!(
        matches!(err, TelegramError::Api { code: 400, .. }),
        "{err:?}"
    );
    assert_eq!(sim.calls_to("sendMessage").len(), 1);
}

#[tokio::test]
async fn a_429_waits_retry_after_then_succeeds() {
    let (sim, api) = setup().await;
    sim.fail_method(
        "getWebhookInfo",
        ApiFault::TooManyRequests { retry_after: 1 },
        1,
    );
    let t = Instant::now();
    api.get_webhook_info().await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(950));
    assert_eq!(sim.calls_to("getWebhookInfo").len(), 2);
}

#[tokio::test]
async fn a_dropped_connection_is_a_retried_network_error() {
    let (sim, api) = setup().await;
    sim.fail_method("getMe", ApiFault::Drop, 1);
    api.get_me().await.unwrap();
    assert_eq!(sim.calls_to("getMe").len(), 2);
}

#[tokio::test]
async fn errors_never_carry_the_token() {
    let token = "987654321:AAE-tokenSecretHalf_abcdefghijklmnop";
    // Nothing listens here: a network error, which reqwest would print with the URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = TelegramConfig::for_url(&format!("http://127.0.0.1:{port}"), token).unwrap();
    cfg.max_attempts = 1;
    let api = TelegramClient::new(cfg).unwrap();
    let err = api.get_me().await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, TelegramError::Network { .. }), "{text}");
    assert!(!text.contains("tokenSecretHalf"), "{text}");
    assert!(
        text.contains("refused") || text.contains("connect"),
        "{text}"
    );
    // A wrong token: Telegram's 401 text, no token.
    let sim = Sim::builder().start().await.unwrap();
    let api =
        TelegramClient::new(TelegramConfig::for_url(&sim.base_url(), token).unwrap()).unwrap();
    let err = api.get_me().await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("tokenSecretHalf"));
}

#[tokio::test]
async fn every_call_has_a_timeout() {
    let (sim, _) = setup().await;
    let mut cfg = TelegramConfig::for_url(&sim.base_url(), &sim.token()).unwrap();
    cfg.request_timeout = Duration::from_millis(300);
    cfg.max_attempts = 1;
    let api = TelegramClient::new(cfg).unwrap();
    sim.fail_method("getMe", ApiFault::Slow(Duration::from_secs(5)), 1);
    let t = Instant::now();
    let err = api.get_me().await.unwrap_err();
    assert!(matches!(err, TelegramError::Timeout { .. }), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_429_the_client_gives_up_on_holds_that_chat_in_the_limiter() {
    let sim = Sim::builder().start().await.unwrap();
    let mut cfg = TelegramConfig::for_url(&sim.base_url(), &sim.token()).unwrap();
    cfg.rate = Some(telbot_shared::config::RateLimits {
        global_per_sec: 1000,
        per_chat_per_sec: 100,
        per_chat_burst: 100,
    });
    // Asked to wait 2 s, allowed 0 s: the call fails with the 429 at once...
    cfg.max_retry_after = Duration::ZERO;
    let api = TelegramClient::new(cfg).unwrap();
    sim.fail_method(
        "sendMessage",
        ApiFault::TooManyRequests { retry_after: 2 },
        1,
    );
    let err = api.send_message(5, "first").await.unwrap_err();
    assert!(
        matches!(err, TelegramError::RetryAfter { retry_after: 2, .. }),
        "{err:?}"
    );
    // ...and the next send to that chat waits the rest of it in the limiter, not at Telegram,
    // while another chat goes on.
    let t = Instant::now();
    api.send_message(6, "other chat").await.unwrap();
    let other = t.elapsed();
    api.send_message(5, "second").await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "the held chat sent after {:?}",
        t.elapsed()
    );
    assert!(
        other < Duration::from_millis(1900),
        "another chat waited {other:?}"
    );
    assert_eq!(
        sim.calls_to("sendMessage").len(),
        3,
        "no call was refused again"
    );
}
