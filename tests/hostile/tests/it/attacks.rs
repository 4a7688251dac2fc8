//! Each attack runs ~8 s against a fresh bot-server binary; during it `/health` and a genuine
//! webhook delivery (with the secret, on fresh connections from 127.0.0.1) must be answered
//! within 1 s every second, the process must stay up, and its peak RSS stay ≤ 64 MB.

use std::time::{Duration, Instant};

use telbot_hostile::*;

const RSS_LIMIT: u64 = 64 * 1024 * 1024;
const ATTACK: Duration = Duration::from_secs(8);

async fn under_attack(name: &str, ips: u8, conns: usize, how: Behaviour, first_id: i64) {
    under_attack_from(name, &attacker_ips(ips), conns, how, first_id).await;
}

async fn under_attack_from(
    name: &str,
    ips: &[std::net::IpAddr],
    conns: usize,
    how: Behaviour,
    first_id: i64,
) {
    let _one_at_a_time = lock();
    let sim = sim().await;
    let mut bot = Bot::start(&sim, &[]).await;
    let start = Instant::now();
    let until = start + ATTACK;
    let attack = Attack::start(bot.addr, ips, conns, how, until);
    // Give the attackers a second to open their connections, then probe.
    let probes = probe_during(bot.addr, start + Duration::from_secs(1), until, first_id).await;
    let opened = attack.finish().await;
    let peak = bot.peak_rss();
    let alive = bot.running();
    eprintln!(
        "{name}: {conns} attackers from {} address(es), {opened} connections opened; \
         {} probe rounds, slowest /health {:?}, slowest delivery {:?}; peak RSS {:.1} MB",
        ips.len(),
        probes.rounds,
        probes.health_max,
        probes.delivery_max,
        peak as f64 / 1048576.0
    );
    assert!(alive, "bot-server exited during {name}:\n{}", bot.log());
    assert!(probes.rounds >= 5, "too few probe rounds: {probes:?}");
    assert!(probes.failures.is_empty(), "{name}: {:?}", probes.failures);
    assert!(
        peak > 0 && peak <= RSS_LIMIT,
        "{name}: peak RSS {peak} bytes"
    );
    // Still serving once the attack is over.
    assert!(probe_health(bot.addr).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_on_headers() {
    under_attack("slow headers", 1, 2100, Behaviour::SlowHeaders, 1_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_on_bodies_without_the_secret() {
    under_attack("slow bodies", 4, 2100, Behaviour::SlowBody, 2_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_flood_without_the_secret() {
    under_attack("idle flood", 8, 2100, Behaviour::Idle, 3_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_body_flood_without_the_secret() {
    under_attack("1 MB bodies", 4, 600, Behaviour::LargeBody, 4_000).await;
}

/// Telegram behind the attacker's own address (a shared proxy, say): the per-address cap only
/// ever closes that address's oldest idle connection, so a fresh delivery still gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_from_the_genuine_clients_own_address() {
    let own = [std::net::IpAddr::from([127, 0, 0, 1])];
    under_attack_from(
        "slow headers from 127.0.0.1",
        &own,
        2100,
        Behaviour::SlowHeaders,
        5_000,
    )
    .await;
}
