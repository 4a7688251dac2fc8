//! Three bot-server processes on one PostgreSQL behind haproxy (issue 12, part 6), telegram-sim
//! delivering to the balancer: a load answered exactly once and in chat order, a kill -9 of
//! one instance mid-load, and a rolling deploy under load.

use std::time::{Duration, Instant};

use telbot_chaos::account::{Tally, all_answered, tally};
use telbot_chaos::fleet::{CLAIM_LEASE, Fleet};
use telbot_chaos::load::{Ledger, Load, LoadSpec, Target};

/// Workers per instance (config/default.toml's inbox.workers): the kill -9 bound on doubles.
const WORKERS: usize = 32;

fn spec(first_chat: i64, chats: i64, rate: u32) -> LoadSpec {
    LoadSpec {
        chats: (first_chat..first_chat + chats).collect(),
        rate,
        dup_percent: 5,
    }
}

fn target(f: &Fleet) -> Target {
    Target {
        webhook: format!("{}/webhook", f.stack.bot_url()),
        secret: f.stack.secret(),
    }
}

/// Waits (≤ `within`) until every update of `ledger` is answered; the tally then.
async fn settle(f: &Fleet, ledger: &Ledger, within: Duration) -> (Tally, Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < within && !all_answered(ledger, &f.stack.sim) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = t0.elapsed();
    // Late doubles would show within this.
    tokio::time::sleep(Duration::from_millis(500)).await;
    (tally(ledger, &f.stack.sim), took)
}

/// Three instances, once the leader has registered the balancer's URL; that URL.
async fn three_with_webhook() -> (Fleet, String) {
    let f = Fleet::start(3).await.unwrap();
    let hook = f.stack.expected_webhook();
    assert!(
        f.stack
            .sim
            .wait_for(Duration::from_secs(15), |s| s.webhook_info()["url"] == hook)
            .await,
        "the leader registers the balancer's URL\n{}",
        f.log_tails(20)
    );
    (f, hook)
}

fn processed(h: &Option<serde_json::Value>) -> u64 {
    h.as_ref()
        .and_then(|h| h["updates"]["processed"].as_u64())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_behind_haproxy_lose_nothing_through_a_kill_and_a_rolling_deploy() {
    let (mut f, hook) = three_with_webhook().await;
    let mut leaders = 0;
    for i in 0..3 {
        let h = f.health(i).await;
        assert!(h.is_some(), "bot-server-{i} answers /health");
        let r: serde_json::Value = f
            .stack
            .http()
            .get(format!("{}/ready", f.url(i)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        leaders += usize::from(r["leader"] == true);
    }
    assert_eq!(leaders, 1, "one leader of three");
    assert_eq!(
        f.stack.sim.calls_to("setWebhook").len(),
        1,
        "one instance registers the webhook"
    );

    // 1. 1,000 updates over 100 chats (and 5 % redelivered straight to the balancer).
    let load = Load::start(&f.stack.sim, target(&f), spec(10_000, 100, 250));
    // 250/s for about 4 s: until 1,000 are in (bounded).
    let t0 = Instant::now();
    while load.ledger().sent.len() < 1_000 && t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ledger = load.stop().await;
    assert!(ledger.sent.len() >= 1_000, "sent {}", ledger.sent.len());
    let (t, _) = settle(&f, &ledger, Duration::from_secs(60)).await;
    let logs = f.log_tails(30);
    assert_eq!(t.lost, 0, "{t:?}\n{logs}");
    assert_eq!(t.answered, t.sent, "{t:?}");
    assert_eq!(t.twice, 0, "{t:?}");
    assert_eq!(t.order_violations, 0, "{t:?}");
    let mut worked = Vec::new();
    for i in 0..3 {
        worked.push(processed(&f.health(i).await));
    }
    assert!(
        worked.iter().all(|&n| n > 0),
        "every instance worked: {worked:?}"
    );
    println!("1,000 over 100 chats: {t:?}; processed per instance {worked:?}");

    // 2. kill -9 of one instance mid-load; it comes back after the lease.
    let load = Load::start(&f.stack.sim, target(&f), spec(20_000, 100, 150));
    tokio::time::sleep(Duration::from_secs(2)).await;
    f.kill_instance(0).await.unwrap();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ledger = load.stop().await;
    let (t, _) = settle(&f, &ledger, CLAIM_LEASE + Duration::from_secs(30)).await;
    let since_kill = killed.elapsed() - Duration::from_millis(500);
    let logs = f.log_tails(30);
    assert_eq!(t.lost, 0, "{t:?}\n{logs}");
    assert_eq!(t.answered, t.sent, "every update answered: {t:?}\n{logs}");
    assert!(t.twice <= WORKERS, "doubles ≤ inbox.workers: {t:?}");
    assert_eq!(t.order_violations, 0, "order of first answers: {t:?}");
    println!(
        "kill -9: {t:?}; all answered {:.1} s after the kill (claim lease {CLAIM_LEASE:?})",
        since_kill.as_secs_f64()
    );
    f.start_instance(0).await.unwrap();

    // 3. A rolling deploy under load: each instance in turn drains (/ready 503), exits,
    // starts again.
    let load = Load::start(&f.stack.sim, target(&f), spec(30_000, 100, 150));
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..3 {
        let saw_503 = f.drain_instance(i).await.unwrap();
        assert!(
            saw_503,
            "/ready of bot-server-{i} said 503 while it drained"
        );
        f.start_instance(i).await.unwrap();
        // haproxy's check puts it back after two passes.
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    let ledger = load.stop().await;
    let (t, _) = settle(&f, &ledger, Duration::from_secs(60)).await;
    let logs = f.log_tails(30);
    assert_eq!(t.lost, 0, "{t:?}\n{logs}");
    assert_eq!(t.answered, t.sent, "{t:?}\n{logs}");
    assert_eq!(
        t.twice, 0,
        "a rolling deploy answers nothing twice: {t:?}\n{logs}"
    );
    assert_eq!(t.order_violations, 0, "{t:?}");
    assert_eq!(
        f.stack.sim.webhook_info()["url"],
        hook,
        "the webhook survived the deploy"
    );
    assert!(
        f.stack.sim.calls_to("deleteWebhook").is_empty(),
        "nobody deleted the webhook"
    );
    println!("rolling deploy: {t:?}");
}

/// The pid in a lease owner name (`watchdog on host (pid 123)`).
fn pid_of(owner: &str) -> Option<u32> {
    owner
        .rsplit_once("(pid ")?
        .1
        .strip_suffix(')')?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_watchdogs_on_a_stuck_webhook_make_one_recovery_and_one_page_and_survive_a_kill() {
    use telbot_chaos::account::count_mails;
    use telbot_chaos::proxy::Fault;
    let (mut f, hook) = three_with_webhook().await;
    let db = f.stack.store().await.unwrap();
    let load = Load::start(&f.stack.sim, target(&f), spec(40_000, 50, 40));
    // The webhook gets stuck: every delivery fails; draining is slow so the recovery lasts.
    f.stack.hook.set(Fault::Status(500));
    f.stack
        .api
        .set_for(&["getUpdates"], Fault::Slow(Duration::from_secs(2)));
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Both watchdogs start at the same moment on it.
    f.start_watchdogs(2).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut holder = None;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = telbot_shared::recovery::load_state(&db).await
            && st.phase == telbot_shared::recovery::Phase::Draining
        {
            holder = st.holder;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let holder = holder.unwrap_or_else(|| {
        panic!(
            "no recovery reached the drain within 90 s\n{}",
            f.log_tails(30)
        )
    });
    assert_eq!(
        f.stack.sim.calls_to("deleteWebhook").len(),
        1,
        "one recovery of the two watchdogs"
    );
    // The one draining is killed mid-recovery; the faults end.
    let pid = pid_of(&holder).unwrap();
    assert!(f.kill_watchdog_pid(pid).await.unwrap(), "{holder} is ours");
    let killed = Instant::now();
    f.stack.api.heal();
    // The other finishes it once the lease expired: the webhook set again, the phase gone.
    let mut finished = false;
    while killed.elapsed() < Duration::from_secs(90) {
        let phase = telbot_shared::recovery::load_state(&db).await.unwrap();
        if phase.is_none() && f.stack.sim.webhook_info()["url"] == hook {
            finished = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        finished,
        "the other watchdog did not finish the recovery\n{}",
        f.log_tails(40)
    );
    println!(
        "the surviving watchdog finished the recovery {:.1} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    // Deliveries still fail, so the webhook is stuck again at once: the incident outlasts a
    // repair and pages — once, from whichever watchdog acts.
    let wait_mails = |want: (usize, usize)| {
        let catcher = &f.stack.catcher;
        async move {
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(60) {
                let m = count_mails(&catcher.mails());
                if m.0 >= want.0 && m.1 >= want.1 {
                    return m;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            count_mails(&catcher.mails())
        }
    };
    let m = wait_mails((1, 0)).await;
    assert!(m.0 >= 1, "no CRITICAL within 60 s\n{}", f.log_tails(30));
    f.stack.hook.heal();
    let m = wait_mails((1, 1)).await;
    assert!(m.1 >= 1, "no RESOLVED within 60 s\n{}", f.log_tails(30));
    let ledger = load.stop().await;
    let (t, _) = settle(&f, &ledger, Duration::from_secs(60)).await;
    let logs = f.log_tails(30);
    assert_eq!(t.lost, 0, "{t:?}\n{logs}");
    assert_eq!(t.answered, t.sent, "{t:?}\n{logs}");
    assert_eq!(t.twice, 0, "{t:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let subjects: Vec<String> = f
        .stack
        .catcher
        .mails()
        .into_iter()
        .map(|m| m.subject)
        .collect();
    let mails = count_mails(&f.stack.catcher.mails());
    assert_eq!(mails, (1, 1), "one CRITICAL, one RESOLVED: {subjects:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_fails_over_to_a_backup_and_back_losing_nothing() {
    use sqlx::Row;
    use telbot_chaos::proxy::Fault;
    let (mut f, hook) = three_with_webhook().await;
    // The backup: instance 2 reached on its own port, not through the primary's front
    // (another region's deployment on the same database).
    let backup = f.url(2);
    let backup_hook = format!("{backup}/webhook");
    f.stack
        .env
        .insert("TELBOT__WEBHOOK__BACKUP_URLS".into(), backup.clone());
    f.stack
        .env
        .insert("TELBOT__WEBHOOK__FAILBACK_AFTER".into(), "3s".into());
    f.start_watchdogs(1).unwrap();
    let load = Load::start(&f.stack.sim, target(&f), spec(70_000, 50, 40));
    let max_connections = f.stack.sim.webhook_info()["max_connections"].clone();
    // The primary's front fails every delivery: the watchdog points the webhook at the backup.
    f.stack.hook.set(Fault::Status(500));
    assert!(
        f.stack
            .sim
            .wait_for(Duration::from_secs(60), |s| s.webhook_info()["url"]
                == backup_hook)
            .await,
        "no failover within 60 s\n{}",
        f.log_tails(30)
    );
    let set = f.stack.sim.calls_to("setWebhook");
    let to_backup = set.last().unwrap();
    assert_eq!(to_backup.params["secret_token"], f.stack.secret());
    assert_eq!(
        f.stack.sim.webhook_info()["max_connections"],
        max_connections
    );
    assert_ne!(
        to_backup.params["drop_pending_updates"], true,
        "pending updates kept"
    );
    let paged = |f: &Fleet, prefix: &str| {
        f.stack
            .catcher
            .mails()
            .iter()
            .any(|m| m.subject.starts_with(prefix) && m.data.contains("webhook-failover"))
    };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(30) && !paged(&f, "[CRITICAL]") {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        paged(&f, "[CRITICAL]"),
        "a CRITICAL names the failover: {:?}",
        f.stack
            .catcher
            .mails()
            .iter()
            .map(|m| &m.subject)
            .collect::<Vec<_>>()
    );
    // Deliveries go to the backup meanwhile.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The primary's front heals: after failback_after the webhook moves back.
    f.stack.hook.heal();
    assert!(
        f.stack
            .sim
            .wait_for(Duration::from_secs(60), |s| s.webhook_info()["url"] == hook)
            .await,
        "no move back within 60 s\n{}",
        f.log_tails(30)
    );
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(30) && !paged(&f, "[RESOLVED]") {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(paged(&f, "[RESOLVED]"), "a RESOLVED for the failover");
    let ledger = load.stop().await;
    let (t, _) = settle(&f, &ledger, Duration::from_secs(60)).await;
    let logs = f.log_tails(30);
    assert_eq!(t.lost, 0, "{t:?}\n{logs}");
    assert_eq!(t.answered, t.sent, "{t:?}\n{logs}");
    assert_eq!(t.twice, 0, "{t:?}");
    assert_eq!(t.order_violations, 0, "{t:?}");
    // Both moves are recorded as actions (the dashboard's table of watchdog actions).
    let db = f.stack.store().await.unwrap();
    let kinds: Vec<String> =
        sqlx::query("SELECT kind FROM wd_actions WHERE result = 'succeeded' ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
    let moves: Vec<&str> = kinds
        .iter()
        .map(String::as_str)
        .filter(|k| *k == "failover" || *k == "failback")
        .collect();
    assert_eq!(moves, ["failover", "failback"], "{kinds:?}");
}
