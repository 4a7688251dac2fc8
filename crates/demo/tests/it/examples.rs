//! The example programs (`crates/demo/examples/`: the README's `own_handlers`, and
//! `purchase`, teloxide's own dialogue example with `BotCommands`, an inline keyboard and
//! callback queries) run as real processes against telegram-sim: their dialogues answer, and
//! a restart in the middle of a dialogue keeps its state (it is in the store, not in memory).

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

fn start(name: &str, env: &[(String, String)]) -> Child {
    Command::new(example(name))
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

/// telegram-sim, a store in `dir` and the environment an example reads.
async fn world(dir: &tempfile::TempDir) -> (Sim, Vec<(String, String)>) {
    let sim = Sim::builder()
        .allow_http_loopback(true)
        .set_webhook_rate_limit(false)
        .start()
        .await
        .expect("telegram-sim starts");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let env = [
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
    (sim, env)
}

/// Starts example `name` (its `n`-th start) and waits until it registered its webhook.
async fn run(name: &str, sim: &Sim, env: &[(String, String)], n: usize) -> Child {
    let child = start(name, env);
    assert!(
        sim.wait_for(Duration::from_secs(30), |s| s.calls_to("setWebhook").len()
            == n)
            .await,
        "{name} registered its webhook"
    );
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_own_handlers_example_keeps_its_dialogue_across_a_restart() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (sim, env) = world(&dir).await;
    let child = run("own_handlers", &sim, &env, 1).await;
    sim.inject(Upd::text(3, "hi"));
    assert_eq!(replies(&sim, 1).await[0], "What is your name?");
    stop(child).await;

    // A new process: the dialogue's state comes from the store.
    let child = run("own_handlers", &sim, &env, 2).await;
    sim.inject(Upd::text(3, "Ada"));
    assert_eq!(replies(&sim, 2).await[1], "Hello, Ada!");
    stop(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teloxides_purchase_example_runs_on_telbot_across_a_restart() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (sim, env) = world(&dir).await;
    let child = run("purchase", &sim, &env, 1).await;
    sim.inject(Upd::command(5, "/help"));
    let r = replies(&sim, 1).await;
    assert!(
        r[0].contains("/start") && r[0].contains("/cancel"),
        "{}",
        r[0]
    );
    sim.inject(Upd::command(5, "/start"));
    assert_eq!(
        replies(&sim, 2).await[1],
        "Let's start! What's your full name?"
    );
    sim.inject(Upd::text(5, "Ada Lovelace"));
    assert_eq!(replies(&sim, 3).await[2], "Select a product:");
    let keyboard = sim.sent_messages()[2]
        .reply_markup
        .clone()
        .unwrap_or_default();
    assert_eq!(keyboard["inline_keyboard"][0][1]["callback_data"], "Banana");
    stop(child).await;

    // Restarted between the keyboard and the press: the choice still finds its state.
    let child = run("purchase", &sim, &env, 2).await;
    sim.inject(Upd::callback(5, "Banana"));
    assert_eq!(
        replies(&sim, 4).await[3],
        "Ada Lovelace, product 'Banana' has been purchased successfully!"
    );
    assert!(
        sim.wait_for(Duration::from_secs(5), |s| !s
            .calls_to("answerCallbackQuery")
            .is_empty())
            .await,
        "the callback query was answered"
    );
    // The dialogue ended: a text now is an invalid state.
    sim.inject(Upd::text(5, "more"));
    assert_eq!(
        replies(&sim, 5).await[4],
        "Unable to handle the message. Type /help to see the usage."
    );
    stop(child).await;
}

/// The README's "Plug in your own handlers" block is `examples/own_handlers.rs` (without its
/// `//!` header), so the code a reader copies is the code these tests run.
#[test]
fn the_readme_shows_the_own_handlers_example_as_it_is() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let file = std::fs::read_to_string(root.join("crates/demo/examples/own_handlers.rs"))
        .expect("own_handlers.rs");
    let section = readme
        .split("## Plug in your own handlers")
        .nth(1)
        .expect("the section");
    let block = section
        .split("```rust\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a rust block");
    let body: Vec<&str> = file.lines().filter(|l| !l.starts_with("//!")).collect();
    assert_eq!(block.trim(), body.join("\n").trim());
}
