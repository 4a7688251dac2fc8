//! The README's example program (`crates/demo/examples/own_handlers.rs`, teloxide types only)
//! run as the real process against telegram-sim: its dialogue answers, and a restart in the
//! middle of the dialogue keeps its state (it is in the store, not in memory).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use telegram_sim::{Sim, Upd};

/// The example's binary, built beside this test binary by `cargo test`/`cargo nextest`.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let debug = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = debug.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p telbot-demo --example {name}`",
        path.display()
    );
    path
}

fn start(env: &[(String, String)]) -> Child {
    Command::new(example("own_handlers"))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the example starts")
}

/// SIGTERM, then waits for a graceful exit.
async fn stop(mut child: Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -TERM");
    for _ in 0..200 {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(status.success(), "the example exited with {status}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    panic!("the example did not exit within 20 s of SIGTERM");
}

async fn replies(sim: &Sim, n: usize) -> Vec<String> {
    assert!(
        sim.wait_for(Duration::from_secs(20), |s| s.sent_messages().len() >= n)
            .await,
        "{} of {n} replies",
        sim.sent_messages().len()
    );
    sim.sent_messages().into_iter().map(|m| m.text).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_own_handlers_example_keeps_its_dialogue_across_a_restart() {
    let sim = Sim::builder()
        .allow_http_loopback(true)
        .set_webhook_rate_limit(false)
        .start()
        .await
        .expect("telegram-sim starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let env: Vec<(String, String)> = [
        ("TELEGRAM_BOT_TOKEN", sim.token()),
        ("TELEGRAM_API_URL", sim.base_url()),
        ("PUBLIC_URL", format!("http://127.0.0.1:{port}")),
        ("PORT", port.to_string()),
        ("WEBHOOK_SECRET", "example-secret-12345".to_string()),
        (
            "DATABASE_URL",
            format!("sqlite://{}/bot.db?mode=rwc", dir.path().display()),
        ),
        ("DATA_DIR", dir.path().display().to_string()),
        ("TELBOT__SERVER__HOST", "127.0.0.1".into()),
        ("TELBOT__TELEGRAM__RATE_LIMIT", "false".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();

    let child = start(&env);
    assert!(
        sim.wait_for(Duration::from_secs(30), |s| s.calls_to("setWebhook").len()
            == 1)
            .await,
        "the example registered its webhook"
    );
    sim.inject(Upd::text(3, "hi"));
    assert_eq!(replies(&sim, 1).await[0], "What is your name?");
    stop(child).await;

    // A new process: the dialogue's state comes from the store.
    let child = start(&env);
    assert!(
        sim.wait_for(Duration::from_secs(30), |s| s.calls_to("setWebhook").len()
            == 2)
            .await,
        "the restarted example registered its webhook"
    );
    sim.inject(Upd::text(3, "Ada"));
    assert_eq!(replies(&sim, 2).await[1], "Hello, Ada!");
    stop(child).await;
}
