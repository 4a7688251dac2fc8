//! The dashboard's "Refresh status" (issue 27 part 3): the button asks the watchdog, through
//! the shared store, for a full check pass and shows its findings; with no watchdog to
//! answer, the page is told so instead of waiting forever.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::common::*;
use crate::wd::watchdog_on;

async fn ask(bot: &RunningBot) -> String {
    let r = reqwest::Client::new()
        .post(bot.url("/bot/dashboard/check"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    v["id"].as_str().unwrap().to_string()
}

async fn answer(bot: &RunningBot, id: &str) -> Value {
    reqwest::Client::new()
        .get(bot.url(&format!("/bot/dashboard/check?id={id}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_button_runs_a_real_check_in_the_watchdog_and_shows_its_findings() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let wd = Arc::new(watchdog_on(&sim, &db, &bot.url(""), "5s").await);
    let stop = wd.stop_token();
    let daemon = {
        let wd = wd.clone();
        tokio::spawn(async move { wd.run_until_stopped().await })
    };
    // Only the admin may ask.
    let anon = reqwest::Client::new()
        .post(bot.url("/bot/dashboard/check"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    let id = ask(&bot).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let got = loop {
        let a = answer(&bot, &id).await;
        if a["state"] != "pending" || tokio::time::Instant::now() > deadline {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(got["state"], "done", "the watchdog answered: {got:#}");
    let findings = got["findings"].as_array().unwrap();
    let keys: Vec<&str> = findings
        .iter()
        .filter_map(|f| f["incident"].as_str())
        .collect();
    // A full pass: Telegram, the bot, the integration probes and the canary.
    for key in ["webhook-wrong-url", "bot-down", "webhook-auth", "canary"] {
        assert!(keys.contains(&key), "{key} missing in {keys:?}");
    }
    assert!(
        findings
            .iter()
            .any(|f| f["incident"] == "canary" && f["level"] == "ok"),
        "{got:#}"
    );
    assert!(!got.to_string().contains(SECRET), "no secret in the answer");
    stop.cancel();
    daemon.await.unwrap().unwrap();
    bot.stop().await;
}

#[tokio::test]
async fn with_no_watchdog_the_page_is_told_why_instead_of_waiting() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let id = ask(&bot).await;
    assert_eq!(answer(&bot, &id).await["state"], "pending");
    // The same request, asked longer ago than the page waits.
    telbot_shared::check_request::ask(
        bot.state.db(),
        id.clone(),
        telbot_shared::unix_now() - bot_server::testing::STATUS_WAIT - 1,
    )
    .await
    .unwrap();
    let a = answer(&bot, &id).await;
    assert_eq!(a["state"], "no_answer", "{a:#}");
    assert!(a["why"].as_str().unwrap().contains("watchdog run"), "{a:#}");
    assert_eq!(answer(&bot, "someone-else").await["state"], "replaced");
    bot.stop().await;
}
