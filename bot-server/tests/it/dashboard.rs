//! The dashboard over HTTP: who may see it, the headers it sends, the CSRF rules on admin
//! POSTs, and the JSON the page polls (figures, charts, the watchdog's rows).

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::header::{HeaderMap, SET_COOKIE};
use telegram_sim::Upd;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_page_and_its_data_are_admin_only() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let c = client();
    for path in ["/bot/dashboard", "/bot/dashboard/data"] {
        let r = c.get(bot.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        let r = c
            .get(bot.url(path))
            .bearer_auth("wrong-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = c
            .get(bot.url(path))
            .basic_auth("x", Some("wrong-token"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = c
            .get(bot.url(path))
            .basic_auth("anyone", Some(ADMIN))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let r = c
            .get(bot.url(path))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let r = c
            .get(bot.url(path))
            .header("cookie", "telbot_session=guess")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    // The one-time login: a wrong token is refused, the right one sets a strict cookie and
    // redirects to the clean URL; the cookie then opens the page.
    let r = c
        .get(bot.url("/bot/dashboard?token=wrong-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get(SET_COOKIE).is_none());
    let r = c
        .get(bot.url(&format!("/bot/dashboard?token={ADMIN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/bot/dashboard");
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.starts_with("telbot_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") & cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(ADMIN), "the cookie is not the token");
    let pair = cookie.split(';').next().unwrap().to_string();
    let r = c
        .get(bot.url("/bot/dashboard"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The cookie is signed with a key derived from the admin token: another instance with
    // the same ADMIN_TOKEN (behind the same load balancer) accepts it, one with another token
    // does not (each its own SQLite file, since one file serves one bot-server).
    let other_db = TestDb::new(Backend::Sqlite);
    let other = start_bot(&sim, &other_db, &[]).await;
    let r = c
        .get(other.url("/bot/dashboard"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "same token, another instance");
    other.stop().await;
    let third_db = TestDb::new(Backend::Sqlite);
    let third = start_bot(&sim, &third_db, &[("ADMIN_TOKEN", "another-admin-token")]).await;
    let r = c
        .get(third.url("/bot/dashboard"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "another token");
    third.stop().await;
    bot.stop().await;

    let bot = start_bot(&sim, &db, &[("ADMIN_TOKEN", "")]).await;
    for path in [
        "/bot/dashboard",
        "/bot/dashboard/data",
        "/bot/dashboard?token=anything1",
    ] {
        let r = c
            .get(bot.url(path))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    bot.stop().await;
}

#[tokio::test]
async fn the_page_sends_security_headers_and_holds_no_secret() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let r = client()
        .get(bot.url("/bot/dashboard"))
        .basic_auth("me", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h: HeaderMap = r.headers().clone();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    let csp = h["content-security-policy"].to_str().unwrap().to_string();
    for part in [
        "default-src 'none'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{csp} lacks {part}");
    }
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(nonce.len() >= 16);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!(r#"<script nonce="{nonce}">"#)));
    assert!(html.contains(&format!(r#"<style nonce="{nonce}">"#)));
    for secret in [ADMIN, SECRET, sim.token().as_str()] {
        assert!(!html.contains(secret), "the page shows a secret");
    }
    // Self-contained: nothing to fetch from anywhere.
    for outside in ["<link", " src=", "@import", "url(", "https://", "//cdn"] {
        assert!(
            !html.contains(outside),
            "the page loads something: {outside}"
        );
    }
    for part in [
        "Refresh status",
        "Emergency recovery",
        "id=\"light\"",
        "<svg",
        "Recent watchdog actions",
    ] {
        assert!(html.contains(part), "the page lacks {part}");
    }
    // A fresh nonce per answer; the same CSRF token for the whole process.
    let again = client()
        .get(bot.url("/bot/dashboard"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let csp2 = again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(csp, csp2);
    assert_eq!(csrf_of(&html), csrf_of(&again.text().await.unwrap()));
    let data = client()
        .get(bot.url("/bot/dashboard/data"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(data.headers()["cache-control"], "no-store");
    assert_eq!(data.headers()["x-content-type-options"], "nosniff");
    let body = data.text().await.unwrap();
    for secret in [ADMIN, SECRET, sim.token().as_str()] {
        assert!(!body.contains(secret), "the JSON shows a secret");
    }
    bot.stop().await;
}

#[tokio::test]
async fn admin_posts_with_browser_credentials_need_the_csrf_token() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let c = client();
    let html = c
        .get(bot.url("/bot/dashboard"))
        .basic_auth("me", Some(ADMIN))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&html);
    assert_eq!(csrf.len(), 64);
    let login = c
        .get(bot.url(&format!("/bot/dashboard?token={ADMIN}")))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();

    for path in ["/webhook/recover", "/shutdown"] {
        let r = c
            .post(bot.url(path))
            .basic_auth("me", Some(ADMIN))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "Basic without X-CSRF-Token: {path}");
        assert!(r.text().await.unwrap().contains("X-CSRF-Token"));
        let r = c
            .post(bot.url(path))
            .basic_auth("me", Some(ADMIN))
            .header("x-csrf-token", "0".repeat(64))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "Basic with a wrong token: {path}");
        let r = c
            .post(bot.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "session without X-CSRF-Token: {path}");
        let r = c
            .post(bot.url(path))
            .bearer_auth(ADMIN)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "cross-site Origin: {path}");
        let r = c
            .post(bot.url(path))
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            401,
            "the CSRF token alone is no credential: {path}"
        );
    }
    // With the token (and a same-origin Origin) it goes ahead; Bearer needs none.
    let r = c
        .post(bot.url("/webhook/recover"))
        .basic_auth("me", Some(ADMIN))
        .header("x-csrf-token", &csrf)
        .header("origin", format!("http://{}", bot.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: serde_json::Value = r.json().await.unwrap();
    assert_eq!(report["dropped"], 0);
    let r = c
        .post(bot.url("/webhook/recover"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(bot.url("/webhook/recover"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The bot is still up: no refused shutdown went through.
    assert_eq!(health(&bot).await["status"], "ok");
    bot.stop().await;
}

async fn data(bot: &RunningBot) -> serde_json::Value {
    let r = client()
        .get(bot.url("/bot/dashboard/data"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn data_has_figures_charts_and_watchdog_rows(backend: Backend) {
    let sim = sim().await;
    let db = TestDb::new(backend);
    let bot = start_bot(
        &sim,
        &db,
        &[("TELBOT__DASHBOARD__HISTORY_INTERVAL", "200ms")],
    )
    .await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 1)
            .await
    );
    let d = data(&bot).await;
    for key in [
        "generated_at",
        "version",
        "uptime_s",
        "level",
        "reasons",
        "mode",
        "display",
    ] {
        assert!(!d[key].is_null(), "{key} missing: {d}");
    }
    assert_eq!(d["mode"], "webhook");
    assert_eq!(d["webhook"]["url"], bot.url("/webhook"));
    assert_eq!(
        d["watchdog"]["actions"].as_array().unwrap().len(),
        0,
        "empty tables are fine"
    );
    assert!(
        d["display"]["watchdog.deploy"]
            .as_str()
            .unwrap()
            .starts_with("none yet"),
        "{}",
        d["display"]
    );
    let f = &d["figures"];
    for key in [
        "webhook_requests_per_min",
        "ack_p50_ms",
        "ack_p99_ms",
        "success_percent",
        "received",
        "processed",
        "inbox_depth",
        "pending_actions",
        "telegram_requests",
        "telegram_latency_ms",
        "rss_bytes",
        "rss_limit_bytes",
        "cpu_percent",
        "memory_percent",
        "disk_percent",
    ] {
        assert!(f.get(key).is_some(), "figures.{key} missing: {f}");
    }
    for key in [
        "handler_failures",
        "parked",
        "unknown_kinds",
        "duplicates",
        "telegram_errors",
        "telegram_rate_limited",
    ] {
        assert!(d["errors"][key].is_u64(), "errors.{key} missing");
    }
    assert_eq!(f["received"], 0);

    for chat in 1..=4 {
        sim.inject(Upd::command(chat, "/start"));
    }
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 4)
            .await
    );
    let now = telbot_shared::unix_now();
    sqlx::query("INSERT INTO wd_actions (kind, reason, result, detail, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind("recovery").bind("webhook stuck: 9 pending").bind("ok").bind("drained 9, replayed 9, dropped 0")
        .bind(now - 120).bind(now - 119)
        .execute(&bot.state.db().pool).await.unwrap();
    sqlx::query("INSERT INTO wd_alerts (incident_key, level, channel, subject, status, created_at, sent_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)")
        .bind("webhook-stuck").bind("critical").bind("email").bind("[CRITICAL] telbot: webhook stuck").bind("pending")
        .bind(now - 60)
        .execute(&bot.state.db().pool).await.unwrap();
    // The watchdog's verification of the latest deploy (issue 27, part 9).
    telbot_shared::deploy_verification::save(
        bot.state.db(),
        &telbot_shared::deploy_verification::DeployVerification {
            version: "9.9.9".into(),
            started_at: now - 400,
            noticed_at: now - 390,
            status: telbot_shared::deploy_verification::VerifyStatus::Failed,
            finished_at: Some(now - 240),
            healed_at: None,
            detail: "problems: [\"502 Bad Gateway\"]".into(),
        },
    )
    .await
    .unwrap();
    // The samples carry the four updates and the ack chart has its points.
    assert!(
        wait_until_async(Duration::from_secs(10), || async {
            let d = data(&bot).await;
            d["figures"]["received"] == 4
                && d["charts"][0]["lines"][1]["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with('M'))
        })
        .await
    );
    let d = data(&bot).await;
    let f = &d["figures"];
    assert_eq!(f["received"], 4, "{f}");
    assert!(f["ack_p99_ms"].as_f64().unwrap() > 0.0);
    assert!(f["webhook_requests_per_min"].as_f64().unwrap() > 0.0, "{d}");
    assert_eq!(f["success_percent"], 100.0);
    assert_eq!(d["display"]["received"], "4");
    assert_eq!(d["level"], "ok", "{}", d["reasons"]);
    let actions = d["watchdog"]["actions"].as_array().unwrap();
    assert_eq!(actions[0]["kind"], "recovery");
    assert_eq!(actions[0]["detail"], "drained 9, replayed 9, dropped 0");
    assert_eq!(
        d["watchdog"]["alerts"][0]["subject"],
        "[CRITICAL] telbot: webhook stuck"
    );
    assert!(
        d["tables"]["actions"][0][0]
            .as_str()
            .unwrap()
            .contains("2 min ago"),
        "{}",
        d["tables"]
    );
    let charts = d["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 3);
    assert!(
        charts[0]["lines"][1]["path"]
            .as_str()
            .unwrap()
            .starts_with('M'),
        "ack chart drawn: {}",
        charts[0]
    );
    // The page shows the same rows.
    let html = client()
        .get(bot.url("/bot/dashboard"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("webhook stuck: 9 pending")
            & html.contains("[CRITICAL] telbot: webhook stuck")
    );
    let deploy = d["display"]["watchdog.deploy"].as_str().unwrap();
    assert!(
        deploy.starts_with("failed at ") && deploy.contains("(4 min ago) — version 9.9.9"),
        "{deploy}"
    );
    assert!(
        html.contains("Last deploy verification: "),
        "the page shows it"
    );
    assert_eq!(d["watchdog"]["deploy"]["status"], "failed");
    bot.stop().await;
}

#[tokio::test]
async fn data_has_figures_charts_and_watchdog_rows_on_sqlite() {
    data_has_figures_charts_and_watchdog_rows(Backend::Sqlite).await;
}

#[tokio::test]
async fn data_has_figures_charts_and_watchdog_rows_on_postgres() {
    data_has_figures_charts_and_watchdog_rows(Backend::Postgres).await;
}

#[tokio::test]
async fn a_broken_webhook_turns_the_light_red_with_a_reason() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__WEBHOOK__HEALTH_CACHE", "0s")]).await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 1)
            .await
    );
    sim.break_webhook(telegram_sim::WebhookFault::Status(500));
    for chat in 1..=8 {
        sim.inject(Upd::command(chat, "/help"));
    }
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| {
            !s.webhook_info()["last_error_message"].is_null()
        })
        .await
    );
    let d = data(&bot).await;
    assert_eq!(d["level"], "critical", "{d}");
    assert_eq!(d["webhook"]["pending"], 8);
    assert!(d["webhook"]["last_error"].as_str().unwrap().contains("500"));
    assert!(
        d["reasons"].to_string().contains("Emergency recovery"),
        "{}",
        d["reasons"]
    );
    bot.stop().await;
}

#[tokio::test]
async fn a_hanging_bot_api_does_not_hang_the_page() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__WEBHOOK__HEALTH_CACHE", "0s")]).await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 1)
            .await
    );
    sim.fail_method(
        "getWebhookInfo",
        telegram_sim::ApiFault::Slow(Duration::from_secs(20)),
        10,
    );
    let started = std::time::Instant::now();
    let d = data(&bot).await;
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(d["level"], "critical");
    assert!(
        d["reasons"].to_string().contains("does not answer"),
        "{}",
        d["reasons"]
    );
    assert_eq!(d["display"]["webhook.pending"], "unknown");
    sim.fail_method(
        "getWebhookInfo",
        telegram_sim::ApiFault::Slow(Duration::ZERO),
        0,
    );
    bot.stop().await;
}
