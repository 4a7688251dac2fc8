//! The webhook exactly as the user set it: a self-signed certificate and a fixed IP go with
//! every setWebhook, a fixed IP Telegram already has is kept, what was registered is in the
//! store for the watchdog, and settings changed behind the bot's back are set again.

use crate::common;

use std::time::Duration;

use common::*;
use serde_json::json;
use telbot_shared::webhook_settings;

/// The bot's record of its registration once it satisfies `ok`. The bot writes it after
/// setWebhook's answer, so it can trail what the simulator already shows.
async fn recorded(
    db: &telbot_shared::store::Db,
    ok: impl Fn(&webhook_settings::Registered) -> bool,
) -> webhook_settings::Registered {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rec = webhook_settings::load(db).await.unwrap();
        match rec {
            Some(r) if ok(&r) => return r,
            other if tokio::time::Instant::now() >= deadline => {
                panic!("no matching registration recorded: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBtelbottest\n-----END CERTIFICATE-----\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_goes_with_every_set_webhook_and_is_restored_when_dropped() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let pem = db.dir.path().join("self.pem");
    std::fs::write(&pem, PEM).unwrap();
    let bot = start_bot(
        &sim,
        &db,
        &[("TELBOT__WEBHOOK__CERTIFICATE", pem.to_str().unwrap())],
    )
    .await;
    assert!(
        sim.wait_for(
            Duration::from_secs(10),
            |s| s.webhook_info()["has_custom_certificate"] == true
        )
        .await,
        "{}",
        sim.webhook_info()
    );
    let set = sim.calls_to("setWebhook");
    let p = &set.last().unwrap().params;
    assert_eq!(p["certificate"]["file_name"], "self.pem", "{p}");
    assert_eq!(p["certificate"]["size"], PEM.len(), "{p}");
    assert_eq!(
        p["secret_token"], SECRET,
        "the multipart call carries the secret too"
    );
    assert_eq!(p["url"], bot.url("/webhook"));
    let rec = recorded(bot.state.db(), |r| r.certificate).await;
    assert!(rec.certificate, "{rec:?}");
    assert_eq!(rec.url, bot.url("/webhook"));
    // Someone sets the same URL without the certificate: the watch loop uploads it again.
    let before = sim.calls_to("setWebhook").len();
    let r = sim
        .call_as_client(
            "setWebhook",
            json!({"url": bot.url("/webhook"), "secret_token": SECRET}),
        )
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(sim.webhook_info()["has_custom_certificate"], false);
    assert!(
        sim.wait_for(
            Duration::from_secs(10),
            |s| s.webhook_info()["has_custom_certificate"] == true
        )
        .await,
        "the certificate was not uploaded again"
    );
    assert!(sim.calls_to("setWebhook").len() >= before + 2);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_changed_behind_the_bots_back_are_set_again() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.webhook_info()["url"]
            == bot.url("/webhook"))
            .await
    );
    let registered = sim.webhook_info();
    let rec = recorded(bot.state.db(), |_| true).await;
    assert_eq!(rec.max_connections, 40);
    assert!(
        rec.allowed_updates.iter().any(|k| k == "callback_query"),
        "{rec:?}"
    );
    // A setWebhook with other settings (an old deploy's, someone's by hand).
    let r = sim
        .call_as_client(
            "setWebhook",
            json!({"url": bot.url("/webhook"), "secret_token": SECRET,
                   "max_connections": 5, "allowed_updates": ["message"]}),
        )
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(sim.webhook_info()["max_connections"], 5);
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| {
            let i = s.webhook_info();
            i["max_connections"] == 40 && i["allowed_updates"] == registered["allowed_updates"]
        })
        .await,
        "not restored: {}",
        sim.webhook_info()
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_ip_address_is_sent_and_one_telegram_already_has_is_kept() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    // Configured: sent with the call.
    let bot = start_bot(&sim, &db, &[("TELBOT__WEBHOOK__IP_ADDRESS", "127.0.0.3")]).await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.webhook_info()["ip_address"]
            == "127.0.0.3")
            .await,
        "{}",
        sim.webhook_info()
    );
    bot.stop().await;

    // Not configured, but Telegram has a fixed one for this URL (set by hand earlier): a
    // start keeps it instead of dropping it.
    let (cfg, listener, e) = config_env(&sim, &db, &[]);
    let url = cfg.webhook.url.clone().unwrap().to_string();
    let r = sim
        .call_as_client(
            "setWebhook",
            json!({"url": url, "secret_token": SECRET, "ip_address": "127.0.0.2"}),
        )
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
    let before = sim.calls_to("setWebhook").len();
    let bot = start_program(
        telbot_reference_bot::program(cfg, None, &e)
            .unwrap()
            .listener(listener),
    )
    .await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            > before)
            .await
    );
    let set = sim.calls_to("setWebhook");
    assert_eq!(set.last().unwrap().params["ip_address"], "127.0.0.2");
    assert_eq!(sim.webhook_info()["ip_address"], "127.0.0.2");
    let rec = recorded(bot.state.db(), |r| {
        r.ip_address.as_deref() == Some("127.0.0.2")
    })
    .await;
    assert_eq!(rec.ip_address.as_deref(), Some("127.0.0.2"));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_webhook_without_a_secret_gets_a_generated_one_kept_in_the_store() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let (mut cfg, listener, e) = config_env(&sim, &db, &[]);
    // What BotConfig::load makes of a public PUBLIC_URL with no WEBHOOK_SECRET.
    let mut no_secret = e.clone();
    no_secret.remove("WEBHOOK_SECRET");
    no_secret.insert("PUBLIC_URL".into(), "https://bot.example.com".into());
    let public = bot_server::BotConfig::load(None, &no_secret).unwrap();
    assert!(public.webhook.generate_secret && public.webhook.secret.is_none());
    // Served on loopback here, as that config would be (the sim cannot reach bot.example.com).
    cfg.webhook.secret = None;
    cfg.webhook.generate_secret = true;
    let bot = start_program(
        telbot_reference_bot::program(cfg, None, &e)
            .unwrap()
            .listener(listener),
    )
    .await;
    let kept = telbot_shared::webhook_secret::load(bot.state.db())
        .await
        .unwrap()
        .expect("a generated secret in the store");
    use secrecy::ExposeSecret;
    let kept = kept.expose_secret().to_string();
    assert_eq!(kept.len(), 64, "{kept}");
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s
            .calls_to("setWebhook")
            .is_empty())
            .await
    );
    assert_eq!(
        sim.calls_to("setWebhook").last().unwrap().params["secret_token"],
        kept.as_str()
    );
    let body = r#"{"update_id": 5, "message": {"message_id": 1, "date": 0, "chat": {"id": 9, "type": "private"}, "text": "hi"}}"#;
    assert_eq!(post_update(&bot, body, None).await, 401);
    assert_eq!(post_update(&bot, body, Some(&kept)).await, 200);
    bot.stop().await;
    // A restart on the same store keeps the same secret.
    let bot = start_program(
        telbot_reference_bot::program(
            {
                let (mut c, _, _) = config_env(&sim, &db, &[]);
                c.webhook.secret = None;
                c.webhook.generate_secret = true;
                c
            },
            None,
            &e,
        )
        .unwrap()
        .listener(config(&sim, &db, &[]).1),
    )
    .await;
    let again = telbot_shared::webhook_secret::load(bot.state.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.expose_secret(), kept);
    bot.stop().await;
}
