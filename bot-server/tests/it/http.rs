//! The webhook's answers (401/413/400/503/unknown kinds), admin guards, health documents.

use crate::common;

use std::time::Duration;

use common::*;
use telegram_sim::Upd;

const HELP: &str = r#"{"update_id":5001,"message":{"message_id":1,"date":1700000000,"chat":{"id":7,"type":"private","first_name":"A"},"from":{"id":7,"is_bot":false,"first_name":"A"},"text":"/help","entities":[{"offset":0,"length":5,"type":"bot_command"}]}}"#;

#[tokio::test]
async fn a_wrong_or_missing_secret_gets_401_and_stores_nothing() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    assert_eq!(post_update(&bot, HELP, None).await, 401);
    assert_eq!(post_update(&bot, HELP, Some("wrong")).await, 401);
    assert_eq!(post_update(&bot, HELP, Some("test_secret-12")).await, 401);
    assert_eq!(health_settled(&bot).await["updates"]["received"], 0);
    assert!(sim.sent_messages().is_empty());
    bot.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__WEBHOOK__MAX_BODY_BYTES", "2048")]).await;
    let big = format!(
        r#"{{"update_id":1,"message":{{"text":"{}"}}}}"#,
        "x".repeat(4096)
    );
    assert_eq!(post_update(&bot, &big, Some(SECRET)).await, 413);
    assert_eq!(post_update(&bot, HELP, Some(SECRET)).await, 200);
    bot.stop().await;
}

#[tokio::test]
async fn only_non_json_or_a_missing_integer_update_id_gets_400() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    for body in [
        "not json",
        "[1,2]",
        r#"{"message":{}}"#,
        r#"{"update_id":"12"}"#,
        r#"{"update_id":1.5}"#,
    ] {
        assert_eq!(post_update(&bot, body, Some(SECRET)).await, 400, "{body}");
    }
    // A known id with a body this build cannot parse is still taken.
    assert_eq!(
        post_update(&bot, r#"{"update_id":99,"message":"odd"}"#, Some(SECRET)).await,
        200
    );
    bot.stop().await;
}

#[tokio::test]
async fn an_unknown_kind_is_stored_acknowledged_counted_and_never_blocks_others() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let unknown = sim.inject(Upd::unknown_kind(9));
    sim.inject(Upd::command(9, "/start"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 1)
            .await
    );
    assert!(
        wait_until(Duration::from_secs(5), || bot
            .state
            .counters()
            .snapshot()
            .unknown
            == 1)
        .await
    );
    let d = sim.deliveries();
    assert!(
        d.iter()
            .any(|d| d.update_id == unknown && d.status == Some(200)),
        "{d:?}"
    );
    let row = wait_status(bot.state.db(), unknown, 3).await;
    assert_eq!(row.map(|r| r.0), Some(3), "stored raw and marked skipped");
    bot.stop().await;
}

#[tokio::test]
async fn a_store_outage_answers_503_then_recovers_without_loss() {
    let sim = sim().await;
    let mut db = TestDb::new(Backend::Postgres);
    let bot = start_bot(&sim, &db, &[("TELBOT__STORE__ACQUIRE_TIMEOUT", "1s")]).await;
    assert_eq!(post_update(&bot, HELP, Some(SECRET)).await, 200);
    db.pg.as_mut().unwrap().kill();
    let other = HELP.replace("5001", "5002");
    assert_eq!(post_update(&bot, &other, Some(SECRET)).await, 503);
    let ok = wait_until(Duration::from_secs(15), || !bot.state.store_up()).await;
    assert!(ok);
    let resp = reqwest::get(bot.url("/health")).await.unwrap();
    assert_eq!(resp.status(), 503);
    let h: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(h["checks"]["store"]["status"], "down");
    assert_eq!(h["status"], "down");
    // The store comes back; Telegram redelivers what got 503; nothing was lost.
    db.pg.as_mut().unwrap().restart().unwrap();
    let mut code = 0;
    for _ in 0..100 {
        code = post_update(&bot, &other, Some(SECRET)).await.as_u16();
        if code == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(code, 200);
    assert!(
        sim.wait_for(Duration::from_secs(15), |s| s.sent_messages().len() == 2)
            .await
    );
    assert!(wait_until(Duration::from_secs(15), || bot.state.store_up()).await);
    // checks.store follows the commits too: ok again once a few have succeeded since.
    for id in 5003..5006 {
        let next = HELP.replace("5001", &id.to_string());
        assert_eq!(post_update(&bot, &next, Some(SECRET)).await, 200);
    }
    assert_eq!(health(&bot).await["status"], "ok");
    bot.stop().await;
}

#[tokio::test]
async fn health_has_every_contract_field() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let h = health(&bot).await;
    for path in [
        "/status",
        "/version",
        "/uptime_s",
        "/mode",
        "/checks/store/status",
        "/process/rss_bytes",
        "/process/cpu_percent",
        "/system/memory_percent",
        "/system/disk_percent",
        "/updates/received",
        "/updates/processed",
        "/updates/failed",
        "/updates/duplicates",
        "/updates/inbox_depth",
        "/pending_actions",
    ] {
        assert!(h.pointer(path).is_some(), "missing {path} in {h}");
    }
    assert_eq!(h["mode"], "webhook");
    assert_eq!(h["status"], "ok");
    let text = h.to_string();
    assert!(!text.contains(&sim.token()) && !text.contains(SECRET) && !text.contains(ADMIN));
    bot.stop().await;
}

#[tokio::test]
async fn webhook_health_reports_problems_and_caches_telegrams_answer() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__WEBHOOK__HEALTH_CACHE", "30s")]).await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 1)
            .await
    );
    let r = reqwest::get(bot.url("/webhook/health")).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["webhook_info"]["is_healthy"], true, "{v}");
    assert_eq!(v["expected_url"], bot.url("/webhook"));
    assert!(v["checked_at"].is_string());
    // Counted from here: registering the webhook reads getWebhookInfo too (to keep a fixed
    // IP), and the watch loop every restore_interval.
    let asked = sim.calls_to("getWebhookInfo").len();
    for _ in 0..5 {
        reqwest::get(bot.url("/webhook/health")).await.unwrap();
    }
    assert!(
        sim.calls_to("getWebhookInfo").len() <= asked + 1,
        "answers must come from the cache"
    );
    bot.stop().await;

    let bot = start_bot(&sim, &db, &[("TELBOT__WEBHOOK__HEALTH_CACHE", "0s")]).await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 2)
            .await
    );
    sim.set_webhook_url_behind_back("https://elsewhere.example/webhook");
    let r = reqwest::get(bot.url("/webhook/health")).await.unwrap();
    assert_eq!(r.status(), 503);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["webhook_info"]["is_healthy"], false);
    let problems = v["webhook_info"]["problems"].to_string();
    assert!(problems.contains("should be"), "{problems}");
    bot.stop().await;
}

#[tokio::test]
async fn admin_routes_need_the_token_and_are_refused_without_one_configured() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let c = reqwest::Client::new();
    let r = c.get(bot.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(bot.url("/metrics"))
        .bearer_auth("nope-nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(bot.url("/metrics"))
        .basic_auth("anyone", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("telbot_inbox_depth"), "{body}");
    bot.stop().await;

    let bot = start_bot(&sim, &db, &[("ADMIN_TOKEN", "")]).await;
    let r = c
        .post(bot.url("/shutdown"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "no ADMIN_TOKEN: admin routes are off, not open"
    );
    let r = c.post(bot.url("/webhook/recover")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    bot.stop().await;
}

#[tokio::test]
async fn post_shutdown_stops_gracefully_and_never_deletes_the_webhook() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 1)
            .await
    );
    let r = reqwest::Client::new()
        .post(bot.url("/shutdown"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let exit = tokio::time::timeout(Duration::from_secs(30), bot.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit, bot_server::Exit::Shutdown);
    assert!(sim.calls_to("deleteWebhook").is_empty());
    assert!(
        !sim.webhook_info()["url"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn a_client_too_slow_with_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__SERVER__HEADER_TIMEOUT", "500ms")]).await;
    let mut s = tokio::net::TcpStream::connect(bot.addr).await.unwrap();
    s.write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Never finish the headers: the server must close the connection by itself.
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "connection still open after the header timeout");
    bot.stop().await;
}

#[tokio::test]
async fn a_client_too_slow_with_its_body_gets_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__SERVER__BODY_TIMEOUT", "500ms")]).await;
    let mut s = tokio::net::TcpStream::connect(bot.addr).await.unwrap();
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nX-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n\r\n{{\"update_id\":"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    bot.stop().await;
}
