//! The reference bot: one reply per command, the /report conversation (a dialogue per chat
//! member) and its TTL, /status for admins, /ask behind a circuit breaker with a fallback.

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
async fn report_dialogues_expire_and_are_swept() {
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
    assert_eq!(bot.state.dialogues().count().await.unwrap(), 1);
    // Past the TTL the sweeper removes it, and a text is no longer taken as the report.
    assert!(
        wait_until_async(Duration::from_secs(10), || async {
            bot.state.dialogues().count().await.unwrap() == 0
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

/// In a group, A's `/report` waits for A's next message: B's messages are not taken as A's
/// report (and B's own `/report` is B's), and A's message completes A's.
#[tokio::test]
async fn a_report_in_a_group_is_completed_by_its_author_only() {
    const GROUP: i64 = -100_555;
    const A: i64 = 11;
    const B: i64 = 12;
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let replies = |n: usize| {
        let sim = &sim;
        async move {
            assert!(
                sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == n)
                    .await,
                "{:?}",
                sim.sent_messages()
            );
            sim.sent_messages()[n - 1].text.clone()
        }
    };
    sim.inject(Upd::command(GROUP, "/report").from_user(A));
    assert!(
        replies(1)
            .await
            .starts_with("What would you like to report?")
    );
    // /health's pending_actions counts the open dialogues (refreshed every 2 s).
    let pending = |n: u64| {
        let bot = &bot;
        async move {
            let open = wait_until_async(Duration::from_secs(5), || async {
                health(bot).await["pending_actions"] == n
            })
            .await;
            assert!(open, "pending_actions != {n}: {}", health(bot).await);
        }
    };
    pending(1).await;
    sim.inject(Upd::text(GROUP, "B's chatter").from_user(B));
    assert_eq!(replies(2).await, "Send /help to see what I can do.");
    sim.inject(Upd::location(GROUP, 1.0, 2.0).from_user(B));
    replies(2).await;
    let reports = || async {
        sqlx::query_as::<_, (i64, Option<String>)>("SELECT user_id, text FROM reports ORDER BY id")
            .fetch_all(&bot.state.db().pool)
            .await
            .unwrap()
    };
    assert!(reports().await.is_empty(), "B completed A's report");
    sim.inject(Upd::text(GROUP, "the lift is broken").from_user(A));
    assert_eq!(replies(3).await, "Thank you, your report is saved.");
    assert_eq!(
        reports().await,
        vec![(A, Some("the lift is broken".to_string()))]
    );
    // A's dialogue is closed; B starts one of their own.
    sim.inject(Upd::text(GROUP, "more from A").from_user(A));
    assert_eq!(replies(4).await, "Send /help to see what I can do.");
    sim.inject(Upd::command(GROUP, "/report").from_user(B));
    replies(5).await;
    sim.inject(Upd::text(GROUP, "not A's").from_user(A));
    assert_eq!(replies(6).await, "Send /help to see what I can do.");
    sim.inject(Upd::text(GROUP, "B's report").from_user(B));
    assert_eq!(replies(7).await, "Thank you, your report is saved.");
    assert_eq!(reports().await.len(), 2);
    assert_eq!(bot.state.dialogues().count().await.unwrap(), 0);
    pending(0).await;
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
