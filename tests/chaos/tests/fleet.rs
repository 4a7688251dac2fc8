//! Three bot-server processes on one PostgreSQL behind haproxy (issue 12, part 6), telegram-sim
//! delivering to the balancer: a load answered exactly once and in chat order, a kill -9 of
//! one instance mid-load, and a rolling deploy under load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

fn processed(h: &Option<serde_json::Value>) -> u64 {
    h.as_ref()
        .and_then(|h| h["updates"]["processed"].as_u64())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_behind_haproxy_lose_nothing_through_a_kill_and_a_rolling_deploy() {
    let mut f = Fleet::start(3).await.unwrap();
    let hook = f.stack.expected_webhook();
    assert!(
        f.stack
            .sim
            .wait_for(Duration::from_secs(15), |s| s.webhook_info()["url"] == hook)
            .await,
        "the leader registers the balancer's URL\n{}",
        f.log_tails(20)
    );
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
    tokio::time::sleep(Duration::from_secs(4)).await;
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
