//! One source of truth for the webhook's settings: the watchdog restores what bot-server
//! registered (its record in the store), not its own configuration; a fixed IP address
//! Telegram had and the configured certificate survive a repair.

use crate::common;

use common::{SECRET, World};
use serde_json::json;
use telbot_shared::webhook_settings::{self, Registered};
use telegram_sim::{Upd, WebhookFault};
use watchdog::{ActionKind, ActionResult};

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBwatchdogtest\n-----END CERTIFICATE-----\n";

/// Someone else's setWebhook with `params` (a deploy's, a person's), which Telegram accepts.
async fn someone_sets(w: &World, params: serde_json::Value) {
    let r = w.sim.call_as_client("setWebhook", params).await.unwrap();
    assert_eq!(r["ok"], true, "{r}");
}

fn kinds(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repairs_restore_the_settings_the_bot_registered_not_the_watchdogs() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    let url = format!("{}/webhook", w.bot.url);
    // bot-server's environment adds inline_query, which the watchdog's config does not name.
    let registered = ["callback_query", "inline_query", "message"];
    webhook_settings::record(
        wd.ctx().store.db(),
        &Registered {
            url: url.clone(),
            max_connections: 12,
            allowed_updates: registered.iter().map(|s| (*s).to_string()).collect(),
            ip_address: None,
            certificate: false,
            at: 0,
        },
    )
    .await
    .unwrap();
    // The wrong-URL repair.
    someone_sets(
        &w,
        json!({"url": "http://127.0.0.1:9/elsewhere", "allowed_updates": ["message"]}),
    )
    .await;
    let out = wd.check().await;
    assert_eq!(
        out.report
            .actions
            .iter()
            .map(|a| a.kind)
            .collect::<Vec<_>>(),
        [ActionKind::SetWebhook],
        "{:#?}",
        out.report
    );
    let p = w.sim.calls_to("setWebhook").pop().unwrap().params;
    assert_eq!(p["url"], url);
    assert_eq!(p["max_connections"], 12, "{p}");
    assert_eq!(kinds(&p["allowed_updates"]), registered, "{p}");
    // A lossless recovery after someone set fewer kinds on the right URL.
    someone_sets(&w, json!({"url": url, "secret_token": SECRET, "max_connections": 3, "allowed_updates": ["message"]})).await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..3 {
        w.sim.inject(Upd::text(5, format!("{i}")));
    }
    let out = wd.recover(false).await;
    assert_eq!(out.report.actions[0].result, ActionResult::Succeeded);
    let info = w.sim.webhook_info();
    assert_eq!(info["max_connections"], 12, "{info}");
    assert_eq!(kinds(&info["allowed_updates"]), registered, "{info}");
    assert!(w.sim.dropped_updates().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_ip_and_the_certificate_survive_a_recovery() {
    let mut w = World::start().await;
    let pem = w.dir.path().join("self.pem");
    std::fs::write(&pem, PEM).unwrap();
    w.env.insert(
        "TELBOT__WEBHOOK__CERTIFICATE".into(),
        pem.display().to_string(),
    );
    let wd = w.watchdog().await;
    let url = format!("{}/webhook", w.bot.url);
    // Fixed by hand at Telegram (the URL's host is 127.0.0.1): no record says so.
    someone_sets(
        &w,
        json!({"url": url, "secret_token": SECRET, "ip_address": "127.0.0.2"}),
    )
    .await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..3 {
        w.sim.inject(Upd::text(6, format!("{i}")));
    }
    let out = wd.recover(false).await;
    assert_eq!(out.report.actions[0].result, ActionResult::Succeeded);
    let p = w.sim.calls_to("setWebhook").pop().unwrap().params;
    assert_eq!(p["ip_address"], "127.0.0.2", "{p}");
    assert_eq!(p["certificate"]["file_name"], "self.pem", "{p}");
    assert_eq!(p["secret_token"], SECRET);
    let info = w.sim.webhook_info();
    assert_eq!(info["ip_address"], "127.0.0.2", "{info}");
    assert_eq!(info["has_custom_certificate"], true, "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_configured_secret_the_one_the_bot_generated_is_used() {
    let mut w = World::start().await;
    w.env.remove("WEBHOOK_SECRET");
    let wd = w.watchdog().await;
    // bot-server made it at its start (the watchdog was already running).
    let made = telbot_shared::webhook_secret::get_or_create(wd.ctx().store.db())
        .await
        .unwrap();
    use secrecy::ExposeSecret;
    w.sim
        .set_webhook_url_behind_back("http://127.0.0.1:9/elsewhere");
    let out = wd.check().await;
    assert_eq!(
        out.report
            .actions
            .iter()
            .map(|a| a.kind)
            .collect::<Vec<_>>(),
        [ActionKind::SetWebhook]
    );
    let p = w.sim.calls_to("setWebhook").pop().unwrap().params;
    assert_eq!(p["secret_token"], made.expose_secret(), "{p:?}");
    let text = format!("{:?}", out.report);
    assert!(
        !text.contains(made.expose_secret()),
        "the secret leaked into the report"
    );
}
