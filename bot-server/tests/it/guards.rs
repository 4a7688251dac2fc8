//! Hostile requests against the webhook and admin guards (issue 11): the secret is checked
//! from the headers before any body byte is read, the body timeout bounds the whole body,
//! a second secret header is refused, polling without a secret has no webhook, lower-case
//! auth schemes work, and a deeply nested update is stored raw.

use crate::common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `head`, then trickles `body` one byte every 100 ms, and returns the first answer
/// bytes the server sends (or "" when none came within `wait`).
async fn trickle(
    addr: std::net::SocketAddr,
    head: String,
    body: Vec<u8>,
    wait: Duration,
) -> String {
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut r, mut w) = s.into_split();
    w.write_all(head.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        for b in body {
            if w.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut buf = vec![0u8; 1024];
    let answer = match tokio::time::timeout(wait, r.read(&mut buf)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        _ => String::new(),
    };
    writer.abort();
    answer
}

#[tokio::test]
async fn a_trickled_body_is_cut_off_by_the_whole_body_timeout() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__SERVER__BODY_TIMEOUT", "1s")]).await;
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nX-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n\r\n"
    );
    let answer = trickle(bot.addr, head, vec![b' '; 100], Duration::from_secs(5)).await;
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "length-delimited: {answer:?}"
    );
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n\r\n"
    );
    let chunks: Vec<u8> = std::iter::repeat_n(b"1\r\n \r\n".to_vec(), 20)
        .flatten()
        .collect();
    let answer = trickle(bot.addr, head, chunks, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "chunked: {answer:?}");
    bot.stop().await;
}

#[tokio::test]
async fn the_secret_is_checked_before_the_body_is_read() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    // Headers only: a body of 100 kB is announced and never sent.
    let head = "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n".to_string();
    let answer = trickle(bot.addr, head, Vec::new(), Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer:?}");
    bot.stop().await;
}

#[tokio::test]
async fn a_second_secret_header_is_refused() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let body = r#"{"update_id":71,"message":{"message_id":1,"date":1,"chat":{"id":7,"type":"private"},"text":"hi"}}"#;
    let r = reqwest::Client::new()
        .post(bot.url("/webhook"))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .header("X-Telegram-Bot-Api-Secret-Token", "forged")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = reqwest::Client::new()
        .post(bot.url("/webhook"))
        .header("X-Telegram-Bot-Api-Secret-Token", "forged")
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(post_update(&bot, body, Some(SECRET)).await, 200);
    bot.stop().await;
}

#[tokio::test]
async fn polling_without_a_secret_has_no_webhook_route() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(
        &sim,
        &db,
        &[("BOT_MODE", "polling"), ("WEBHOOK_SECRET", "")],
    )
    .await;
    let forged = r#"{"update_id":999999999,"message":{"message_id":1,"date":1,"chat":{"id":7,"type":"private"},"text":"hi"}}"#;
    assert_eq!(post_update(&bot, forged, None).await, 404);
    assert!(
        bot_server::testing::sql::status_of(bot.state.db(), 999_999_999)
            .await
            .unwrap()
            .is_none()
    );
    bot.stop().await;
}

#[tokio::test]
async fn auth_schemes_are_case_insensitive() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let c = reqwest::Client::new();
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = c
            .get(bot.url("/metrics"))
            .header("authorization", format!("{scheme} {ADMIN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{scheme}");
    }
    let r = c
        .get(bot.url("/metrics"))
        .header("authorization", "bearer wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    bot.stop().await;
}

#[tokio::test]
async fn an_update_nested_200_levels_deep_is_stored_raw() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let deep = format!(
        r#"{{"update_id":4242,"message":{{"message_id":1,"date":1,"chat":{{"id":7,"type":"private"}},"text":"x","extra":{}1{}}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_eq!(post_update(&bot, &deep, Some(SECRET)).await, 200);
    assert!(
        bot_server::testing::sql::status_of(bot.state.db(), 4242)
            .await
            .unwrap()
            .is_some()
    );
    bot.stop().await;
}
