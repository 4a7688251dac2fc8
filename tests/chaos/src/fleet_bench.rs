//! `telbot-chaos --fleet-bench`: updates processed per second by 1, 2, 3… bot-servers on one
//! PostgreSQL behind haproxy (and, for comparison, one on SQLite), and the latency from an
//! update entering telegram-sim to its reply reaching it, at a fixed rate.
//!
//! Everything (sim, haproxy, PostgreSQL, the instances) shares this machine's cores: the
//! figures say what a fleet costs here, not what N machines would do.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use telegram_sim::Upd;

use crate::ChaosError;
use crate::account::parse_pong;
use crate::fleet::Fleet;
use crate::load::ping_text;
use crate::stack::StoreKind;

/// One measured configuration.
#[derive(Debug, Clone)]
pub struct BenchRow {
    /// `sqlite ×1`, `postgres ×3`, …
    pub label: String,
    /// Updates of the burst.
    pub burst: usize,
    /// Burst: seconds from the first injection to the last reply.
    pub secs: f64,
    /// Burst: replies per second.
    pub per_sec: f64,
    /// Fixed rate: inject → reply latency, median and 99th percentile (ms).
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
    /// Completions another instance's claim fenced out (`telbot_inbox_claims_lost_total`,
    /// summed over the instances): work done twice, answered once.
    pub claims_lost: u64,
    /// Behind the delay relay: request flights to PostgreSQL per update of the burst (about
    /// its round trips, by every instance and its pools together).
    pub flights_per_update: Option<f64>,
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    /// Instance counts on PostgreSQL.
    pub instances: Vec<usize>,
    /// Also one instance on SQLite (the single-instance path).
    pub sqlite: bool,
    /// Updates of the throughput burst.
    pub burst: usize,
    /// Updates per second of the latency run (for 5 s).
    pub rate: u32,
    /// PostgreSQL this many microseconds of round trip away ([`StoreKind::PostgresAcross`]);
    /// `None`: on loopback.
    pub pg_rtt_us: Option<u32>,
}

/// Runs every configuration of `spec`, one after another.
pub async fn run(spec: &BenchSpec) -> Result<Vec<BenchRow>, ChaosError> {
    let mut rows = Vec::new();
    if spec.sqlite {
        rows.push(measure("sqlite ×1".into(), 1, StoreKind::Sqlite, spec).await?);
    }
    let (store, across) = match spec.pg_rtt_us {
        Some(rtt_us) => (
            StoreKind::PostgresAcross { rtt_us },
            format!(" ({} ms RTT)", f64::from(rtt_us) / 1000.0),
        ),
        None => (StoreKind::Postgres, String::new()),
    };
    for &n in &spec.instances {
        rows.push(measure(format!("postgres ×{n}{across}"), n, store, spec).await?);
    }
    Ok(rows)
}

/// The rows as a markdown table.
pub fn table(rows: &[BenchRow]) -> String {
    let mut t = String::from(
        "| store × instances | burst | seconds | processed/s | latency p50 | latency p99 | claims lost | PG flights per update |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        t.push_str(&format!(
            "| {} | {} | {:.2} | {:.0} | {:.1} ms | {:.1} ms | {} | {} |\n",
            r.label,
            r.burst,
            r.secs,
            r.per_sec,
            r.p50_ms,
            r.p99_ms,
            r.claims_lost,
            r.flights_per_update
                .map_or("-".to_string(), |f| format!("{f:.1}"))
        ));
    }
    t
}

async fn measure(
    label: String,
    n: usize,
    store: StoreKind,
    spec: &BenchSpec,
) -> Result<BenchRow, ChaosError> {
    eprintln!("== {label}");
    let f = Fleet::start_on(n, store).await?;
    let hook = f.stack.expected_webhook();
    if !f
        .stack
        .sim
        .wait_for(Duration::from_secs(20), |s| s.webhook_info()["url"] == hook)
        .await
    {
        return Err(ChaosError::Setup(format!("{label}: no webhook set")));
    }
    // Throughput: a burst injected at once over 200 chats.
    let flights_before = f.stack.pg_relay.as_ref().map(|r| r.flights());
    let mut sent = HashMap::new();
    let t0 = SystemTime::now();
    for i in 0..spec.burst {
        let chat = 50_000 + (i % 200) as i64;
        let k = (i / 200) as u64;
        f.stack.sim.inject(Upd::command(chat, ping_text(chat, k)));
        sent.insert((chat, k), t0);
    }
    let (secs, _) = wait_replies(&f, &sent, t0, Duration::from_secs(300)).await?;
    // The burst's completions are recorded a moment after its last reply.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let flights_per_update = f
        .stack
        .pg_relay
        .as_ref()
        .zip(flights_before)
        .map(|(r, before)| (r.flights() - before) as f64 / spec.burst as f64);
    // Latency: a fixed rate for 5 s.
    let mut sent = HashMap::new();
    let start = Instant::now();
    let t1 = SystemTime::now();
    let total = spec.rate as usize * 5;
    let mut i = 0usize;
    while i < total {
        let due = (start.elapsed().as_secs_f64() * f64::from(spec.rate)) as usize;
        while i < due.min(total) {
            let chat = 60_000 + (i % 100) as i64;
            let k = (i / 100) as u64;
            f.stack.sim.inject(Upd::command(chat, ping_text(chat, k)));
            sent.insert((chat, k), SystemTime::now());
            i += 1;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (_, mut lat) = wait_replies(&f, &sent, t1, Duration::from_secs(60)).await?;
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    let claims_lost = claims_lost(&f).await?;
    let row = BenchRow {
        label,
        burst: spec.burst,
        secs,
        per_sec: spec.burst as f64 / secs,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        claims_lost,
        flights_per_update,
    };
    eprintln!("   {row:?}");
    Ok(row)
}

/// `telbot_inbox_claims_lost_total` summed over the fleet's instances (their `/metrics`).
async fn claims_lost(f: &Fleet) -> Result<u64, ChaosError> {
    let http = reqwest::Client::new();
    let mut total = 0;
    for port in &f.ports {
        let text = http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .bearer_auth(f.stack.admin_token())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| ChaosError::Setup(format!("/metrics of :{port}: {e}")))?
            .text()
            .await
            .map_err(|e| ChaosError::Setup(format!("/metrics of :{port}: {e}")))?;
        total += text
            .lines()
            .filter(|l| l.starts_with("telbot_inbox_claims_lost_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64;
    }
    Ok(total)
}

/// Waits until every update of `sent` got its reply; returns the seconds from `t0` to the
/// last reply and each update's inject → reply latency (ms).
async fn wait_replies(
    f: &Fleet,
    sent: &HashMap<(i64, u64), SystemTime>,
    t0: SystemTime,
    cap: Duration,
) -> Result<(f64, Vec<f64>), ChaosError> {
    let deadline = Instant::now() + cap;
    loop {
        let calls = f.stack.sim.calls_to("sendMessage");
        let mut lat = Vec::with_capacity(sent.len());
        let mut last = t0;
        for c in &calls {
            let Some(key) = c.params["text"].as_str().and_then(parse_pong) else {
                continue;
            };
            if let Some(at) = sent.get(&key) {
                lat.push(c.at.duration_since(*at).unwrap_or_default().as_secs_f64() * 1e3);
                last = last.max(c.at);
            }
        }
        if lat.len() >= sent.len() {
            let secs = last.duration_since(t0).unwrap_or_default().as_secs_f64();
            return Ok((secs, lat));
        }
        if Instant::now() >= deadline {
            return Err(ChaosError::Setup(format!(
                "only {} of {} replies within {cap:?}",
                lat.len(),
                sent.len()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
