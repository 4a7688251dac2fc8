//! The reference bot: one reply per command, the /report conversation and its TTL, /status for
//! admins, /ask behind a circuit breaker with a fallback.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::routing::post;
use common::*;
use telegram_sim::Upd;

#[tokio::test]
async fn start_and_help_answer_with_exactly_one_message_to_the_same_chat() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    sim.inject(Upd::command(301, "/start"));
    sim.inject(Upd::command(302, "/help"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 2)
            .await
    );
    health_settled(&bot).await;
    let sent = sim.sent_messages();
    assert_eq!(sent.len(), 2);
    let help = sent.iter().find(|m| m.chat_id == 302).unwrap();
    assert!(
        help.text.contains("/report") && help.text.contains("/ask"),
        "{}",
        help.text
    );
    assert!(
        sent.iter()
            .any(|m| m.chat_id == 301 && m.text.starts_with("Hello"))
    );
    bot.stop().await;
}

#[tokio::test]
async fn report_stores_a_text_or_a_location() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    sim.inject(Upd::command(401, "/report"));
    sim.inject(Upd::location(401, 52.5, 13.4));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 2)
            .await
    );
    assert!(sim.sent_messages()[1].text.starts_with("Thank you"));
    let row: (f64,) = sqlx::query_as("SELECT latitude FROM reports WHERE chat_id = 401")
        .fetch_one(&bot.state.db().pool)
        .await
        .unwrap();
    assert!((row.0 - 52.5).abs() < 1e-9);
    bot.stop().await;
}

#[tokio::test]
async fn pending_actions_expire_and_are_swept() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(
        &sim,
        &db,
        &[
            ("TELBOT__BOT__PENDING_TTL", "1s"),
            ("TELBOT__BOT__SWEEP_INTERVAL", "300ms"),
        ],
    )
    .await;
    sim.inject(Upd::command(501, "/report"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 1)
            .await
    );
    assert_eq!(bot.state.pending().count().await.unwrap(), 1);
    // Past the TTL the sweeper removes it, and a text is no longer taken as the report.
    assert!(
        wait_until_async(Duration::from_secs(10), || async {
            bot.state.pending().count().await.unwrap() == 0
        })
        .await
    );
    sim.inject(Upd::text(501, "too late"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 2)
            .await
    );
    assert!(
        sim.sent_messages()[1].text.starts_with("Send /help"),
        "{}",
        sim.sent_messages()[1].text
    );
    let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM reports")
        .fetch_one(&bot.state.db().pool)
        .await
        .unwrap();
    assert_eq!(n.0, 0);
    bot.stop().await;
}

#[tokio::test]
async fn status_answers_admin_chats_only() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__BOT__ADMIN_CHAT_IDS", "601")]).await;
    sim.inject(Upd::command(601, "/status"));
    sim.inject(Upd::command(602, "/status"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 2)
            .await
    );
    let sent = sim.sent_messages();
    assert!(
        sent.iter()
            .any(|m| m.chat_id == 601 && m.text.contains("mode webhook")),
        "{sent:?}"
    );
    assert!(
        sent.iter()
            .any(|m| m.chat_id == 602 && m.text.contains("admins")),
        "{sent:?}"
    );
    bot.stop().await;
}

#[tokio::test]
async fn ask_uses_the_assistant_and_falls_back_when_its_circuit_opens() {
    let calls = Arc::new(AtomicUsize::new(0));
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (c, h) = (calls.clone(), healthy.clone());
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let (c, h) = (c.clone(), h.clone());
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                if h.load(Ordering::SeqCst) {
                    (
                        axum::http::StatusCode::OK,
                        r#"{"choices":[{"message":{"content":"42"}}]}"#,
                    )
                } else {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "{}")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ai = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(
        &sim,
        &db,
        &[
            ("TELBOT__AI__BASE_URL", &ai),
            ("TELBOT__AI__BREAKER_FAILURES", "2"),
            ("TELBOT__AI__MAX_ATTEMPTS", "2"),
        ],
    )
    .await;
    sim.inject(Upd::command(701, "/ask meaning of life"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 1)
            .await
    );
    assert_eq!(sim.sent_messages()[0].text, "42");
    healthy.store(false, Ordering::SeqCst);
    sim.inject(Upd::command(702, "/ask again"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 2)
            .await
    );
    assert!(sim.sent_messages()[1].text.contains("unavailable"));
    let h = health(&bot).await;
    assert_eq!(h["checks"]["openai"]["circuit"], "open", "{h}");
    assert_eq!(h["status"], "degraded");
    // While open, no call reaches the endpoint.
    let before = calls.load(Ordering::SeqCst);
    sim.inject(Upd::command(703, "/ask once more"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 3)
            .await
    );
    assert_eq!(calls.load(Ordering::SeqCst), before);
    bot.stop().await;
}
