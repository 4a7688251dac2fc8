//! End to end (moved here from watchdog/tests): the real bot-server (in-process, sharing one
//! SQLite store with the watchdog as in production) and telegram-sim.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bot_server::BotConfig;
use telegram_sim::{Sim, Upd, WebhookFault};
use watchdog::ManualClock;
use watchdog::WatchdogConfig;
use watchdog::incident;
use watchdog::{ActionKind, ActionResult, Level, Watchdog};

const SECRET: &str = "e2e_secret-42";

struct Running {
    sim: Sim,
    url: String,
    env: HashMap<String, String>,
    _dir: tempfile::TempDir,
    stop: tokio_util::sync::CancellationToken,
}

async fn start() -> Running {
    let sim = Sim::builder()
        .allow_http_loopback(true)
        .time_scale(0.01)
        .set_webhook_rate_limit(false)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let env: HashMap<String, String> = [
        ("TELEGRAM_BOT_TOKEN", sim.token()),
        ("TELEGRAM_API_URL", sim.base_url()),
        ("PUBLIC_URL", url.clone()),
        ("PORT", port.to_string()),
        ("WEBHOOK_SECRET", SECRET.into()),
        ("ADMIN_TOKEN", "admin-e2e".into()),
        (
            "DATABASE_URL",
            format!("sqlite://{}/telbot.db?mode=rwc", dir.path().display()),
        ),
        ("DATA_DIR", dir.path().display().to_string()),
        ("TELBOT__SERVER__HOST", "127.0.0.1".into()),
        ("TELBOT__TELEGRAM__RATE_LIMIT", "false".into()),
        ("TELBOT__TELEGRAM__BACKOFF_BASE", "20ms".into()),
        ("TELBOT__TELEGRAM__BACKOFF_MAX", "100ms".into()),
        ("TELBOT__INBOX__RETRY_DELAY", "50ms".into()),
        ("TELBOT__WATCHDOG__BOT__INTERVAL", "50ms".into()),
        ("TELBOT__WEBHOOK__RESTORE_INTERVAL", "1s".into()),
        ("TELBOT__POLLING__TIMEOUT", "1s".into()),
        // The test machine's own disk is not the bot's problem here.
        ("TELBOT__LIMITS__DISK_WARN_PERCENT", "100".into()),
        ("TELBOT__LIMITS__DISK_CRITICAL_PERCENT", "100".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let cfg = BotConfig::load(None, &env).unwrap();
    let app = telbot_reference_bot::program(cfg, None, &env)
        .unwrap()
        .listener(listener)
        .start()
        .await
        .unwrap();
    let stop = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    let expected = format!("{url}/webhook");
    assert!(
        sim.wait_for(Duration::from_secs(20), |s| s.webhook_info()["url"]
            == expected.as_str())
            .await,
        "the bot registers its webhook"
    );
    Running {
        sim,
        url,
        env,
        _dir: dir,
        stop,
    }
}

async fn watchdog(r: &Running) -> Watchdog {
    let cfg = WatchdogConfig::load(None, &r.env).unwrap();
    let clock = ManualClock::at(telbot_shared::unix_now());
    Watchdog::build_with(cfg, Arc::new(clock), Arc::new(watchdog::LogSink))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_real_bot_passes_every_check_with_no_action() {
    let r = start().await;
    let wd = watchdog(&r).await;
    for i in 0..20 {
        r.sim.inject(Upd::text(77, format!("hello {i}")));
        let out = wd.check().await;
        assert!(
            out.report.actions.is_empty(),
            "run {i}: {:#?}",
            out.report.actions
        );
        assert_eq!(
            out.report.level(),
            Level::Ok,
            "run {i}: {:#?}",
            out.report.problems().collect::<Vec<_>>()
        );
    }
    let out = wd.check().await;
    assert_eq!(
        out.report.finding(incident::WEBHOOK_AUTH).unwrap().level,
        Level::Ok,
        "401 without the secret"
    );
    assert_eq!(
        out.report.finding(incident::WEBHOOK_HEALTH).unwrap().level,
        Level::Ok
    );
    assert!(
        r.sim
            .wait_for(Duration::from_secs(20), |s| s.sent_messages().len() == 20)
            .await
    );
    r.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_stuck_updates_reach_the_real_bot_and_get_fifty_replies() {
    let r = start().await;
    let wd = watchdog(&r).await;
    r.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..50 {
        r.sim.inject(Upd::text(200 + i % 5, format!("m{i}")));
    }
    assert!(
        r.sim
            .wait_for(Duration::from_secs(20), |s| {
                s.webhook_info()["last_error_message"]
                    .as_str()
                    .is_some_and(|m| m.contains("500 Internal Server Error"))
            })
            .await
    );
    let out = wd.check().await;
    let a = out
        .report
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::LosslessRecovery)
        .expect("a recovery");
    assert_eq!(a.result, ActionResult::Succeeded, "{a:#?}");
    assert_eq!(
        (a.detail.drained, a.detail.replayed, a.detail.dropped),
        (Some(50), Some(50), Some(0))
    );
    assert!(
        r.sim
            .wait_for(Duration::from_secs(30), |s| s.sent_messages().len() == 50)
            .await,
        "50 replies"
    );
    assert!(r.sim.dropped_updates().is_empty());
    assert_eq!(r.sim.webhook_info()["url"], format!("{}/webhook", r.url));
    r.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_and_the_watchdogs_recoveries_take_one_lock() {
    use telegram_sim::ApiFault;
    let r = start().await;
    let wd = Arc::new(watchdog(&r).await);
    r.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..10 {
        r.sim.inject(Upd::text(300 + i % 3, format!("m{i}")));
    }
    let recover_http = || {
        let url = format!("{}/webhook/recover", r.url);
        async move {
            let resp = reqwest::Client::new()
                .post(url)
                .bearer_auth("admin-e2e")
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    // The dashboard's recovery first (its drain is slow), the watchdog's meanwhile.
    r.sim
        .fail_method("getUpdates", ApiFault::Slow(Duration::from_secs(2)), 1);
    let http = tokio::spawn(recover_http());
    assert!(
        r.sim
            .wait_for(Duration::from_secs(10), |s| s
                .calls_to("deleteWebhook")
                .len()
                == 1)
            .await
    );
    let out = wd.recover(false).await;
    let a = &out.report.actions[0];
    assert_eq!(a.result, ActionResult::SkippedCooldown, "{a:#?}");
    let why = a.detail.error.as_deref().unwrap_or_default();
    assert!(
        why.starts_with("a recovery is already running (owner bot-server"),
        "{why}"
    );
    let (code, body) = http.await.unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(r.sim.calls_to("deleteWebhook").len(), 1, "one recovery ran");
    // The other way round.
    r.sim
        .fail_method("getUpdates", ApiFault::Slow(Duration::from_secs(2)), 1);
    let task = {
        let wd = wd.clone();
        tokio::spawn(async move { wd.recover(false).await })
    };
    assert!(
        r.sim
            .wait_for(Duration::from_secs(10), |s| s
                .calls_to("deleteWebhook")
                .len()
                == 2)
            .await
    );
    let (code, body) = recover_http().await;
    assert_eq!(code, 409, "{body}");
    assert!(
        body.contains("a recovery is already running (owner watchdog"),
        "{body}"
    );
    let out = task.await.unwrap();
    assert_eq!(out.report.actions[0].result, ActionResult::Succeeded);
    assert_eq!(r.sim.calls_to("deleteWebhook").len(), 2);
    assert_eq!(r.sim.webhook_info()["url"], format!("{}/webhook", r.url));
    assert!(
        r.sim
            .wait_for(Duration::from_secs(30), |s| s.sent_messages().len() == 10)
            .await,
        "every update answered once the recoveries are done"
    );
    r.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_watchdogs_final_set_webhook_fails_the_bot_polls_until_the_webhook_is_back() {
    use telegram_sim::ApiFault;
    let r = start().await;
    let wd = watchdog(&r).await;
    // Every setWebhook of the watchdog's recovery fails (3 attempts × the client's 3), and
    // the bot's first two rounds of restoring it (3 each).
    r.sim.fail_method("setWebhook", ApiFault::Status500, 9 + 6);
    let out = wd.recover(false).await;
    let a = &out.report.actions[0];
    assert_eq!(a.result, ActionResult::Failed, "{a:#?}");
    assert_eq!(a.detail.webhook_set, Some(false));
    assert_eq!(r.sim.webhook_info()["url"], "");
    // The bot notices there is no webhook and reads the queue itself.
    r.sim.inject(Upd::text(901, "while the webhook is gone"));
    assert!(
        r.sim
            .wait_for(Duration::from_secs(15), |s| s.sent_messages().len() == 1)
            .await,
        "answered by the bot's polling"
    );
    assert!(r.sim.deliveries().is_empty());
    // And restores its webhook; the watchdog's next run then finds nothing left to finish.
    let expected = format!("{}/webhook", r.url);
    assert!(
        r.sim
            .wait_for(Duration::from_secs(20), |s| s.webhook_info()["url"]
                == expected.as_str())
            .await
    );
    let out = wd.check().await;
    assert!(
        out.report
            .finding(incident::RECOVERY_INTERRUPTED)
            .is_none_or(|f| f.level != Level::Critical),
        "{:#?}",
        out.report.findings
    );
    assert_eq!(r.sim.webhook_info()["url"], expected.as_str());
    r.stop.cancel();
}
