//! Webhook ingest on loopback: acks/s and p50/p99 ack latency at 40 and 100 concurrent
//! connections, and how fast the stored updates are handled, for SQLite and PostgreSQL.
//!
//! `cargo bench -p bot-server --bench ingest` (add `-- --seconds 10` for longer runs,
//! `-- --sqlite-only` to skip PostgreSQL). A benchmark, not a test: it prints figures and
//! asserts only that nothing acknowledged was left unprocessed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use bot_server::BotConfig;

const SECRET: &str = "bench_secret";

struct Row {
    backend: &'static str,
    conns: usize,
    acks: u64,
    acks_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    processed_per_s: f64,
    drain_s: f64,
    errors: u64,
}

fn body(id: i64) -> String {
    let chat = 100_000 + id % 1000;
    format!(
        r#"{{"update_id":{id},"message":{{"message_id":{id},"date":{now},"chat":{{"id":{chat},"type":"private","first_name":"B"}},"from":{{"id":{chat},"is_bot":false,"first_name":"B"}},"text":"/start","entities":[{{"offset":0,"length":6,"type":"bot_command"}}]}}}}"#,
        now = telbot_shared::unix_now()
    )
}

async fn run_case(
    backend: &'static str,
    db_url: &str,
    dir: &std::path::Path,
    conns: usize,
    seconds: u64,
) -> Row {
    let sim = telegram_sim::Sim::builder()
        .allow_http_loopback(true)
        .set_webhook_rate_limit(false)
        .start()
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let env: HashMap<String, String> = [
        ("TELEGRAM_BOT_TOKEN", sim.token()),
        ("TELEGRAM_API_URL", sim.base_url()),
        ("PUBLIC_URL", format!("http://127.0.0.1:{port}")),
        ("WEBHOOK_SECRET", SECRET.into()),
        ("DATABASE_URL", db_url.into()),
        ("DATA_DIR", dir.display().to_string()),
        ("TELBOT__TELEGRAM__RATE_LIMIT", "false".into()),
        ("TELBOT__SERVER__HOST", "127.0.0.1".into()),
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
    let state = app.state();
    let stop = app.shutdown_token();
    let handle = tokio::spawn(app.run_until_stopped());
    let url = format!("http://127.0.0.1:{port}/webhook");
    let next_id = Arc::new(AtomicI64::new(1_000_000 + (conns as i64) * 10_000_000));
    let base_received = state.counters().snapshot().received;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (url, next_id) = (url.clone(), next_id.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut lat = Vec::with_capacity(20_000);
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
                    .body(body(id))
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status() == 200 => lat.push(t.elapsed().as_micros() as u32),
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        lat.extend(l);
        errors += e;
    }
    let load_s = started.elapsed().as_secs_f64();
    let acks = lat.len() as u64;
    // Wait for the backlog to drain.
    let drain_start = Instant::now();
    while state.counters().snapshot().processed < base_received + acks
        && drain_start.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total_s = started.elapsed().as_secs_f64();
    let processed = state.counters().snapshot().processed;
    assert_eq!(
        processed, acks,
        "every acknowledged update must be processed"
    );
    lat.sort_unstable();
    let pct = |q: f64| f64::from(lat[((lat.len() - 1) as f64 * q) as usize]) / 1000.0;
    stop.cancel();
    let _ = handle.await;
    sim.shutdown();
    Row {
        backend,
        conns,
        acks,
        acks_per_s: acks as f64 / load_s,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        processed_per_s: processed as f64 / total_s,
        drain_s: drain_start.elapsed().as_secs_f64(),
        errors,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let sqlite_only = args.iter().any(|a| a == "--sqlite-only");
    telbot_shared::logging::init(None);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    rt.block_on(async {
        for conns in [40, 100] {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
            rows.push(run_case("sqlite", &url, dir.path(), conns, seconds).await);
        }
        if !sqlite_only {
            let pg = telbot_testkit::PgServer::start()
                .expect("PostgreSQL for the benchmark (or pass --sqlite-only)");
            for conns in [40, 100] {
                let dir = tempfile::tempdir().unwrap();
                rows.push(run_case("postgres", &pg.url(), dir.path(), conns, seconds).await);
            }
        }
    });
    println!(
        "| store | conns | acked | acks/s | p50 ms | p99 ms | processed/s (incl. drain) | drain s | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {} |",
            r.backend,
            r.conns,
            r.acks,
            r.acks_per_s,
            r.p50_ms,
            r.p99_ms,
            r.processed_per_s,
            r.drain_s,
            r.errors
        );
    }
}
