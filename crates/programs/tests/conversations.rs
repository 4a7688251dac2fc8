//! Every hosted program (`src/telbot/<name>.rs`) runs as a real process
//! (`telbot-programs <name>`) against telegram-sim, with SQLite in a temp dir and a
//! webhook on a free loopback port: a scripted conversation goes in and the exact replies
//! come out, in order, per chat. The dialogue is restarted half way and carries on. One
//! more test reads each `plain`/`telbot` pair and checks that they differ only in the
//! documented migration changes, at most five lines per program.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use telegram_sim::{ApiFault, Sim, Upd};

/// Generous bound on every wait (a loaded 2-core machine).
const WAIT: Duration = Duration::from_secs(20);

/// A running program and the file its stderr goes to. Dropped while still running (a
/// failed test), it is killed, so no process outlives the test.
struct Program {
    child: Child,
    log: PathBuf,
}

impl Drop for Program {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a program printed on stderr so far (for failure messages).
fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn start(name: &str, env: &[(String, String)], log: PathBuf) -> Program {
    let stderr = std::fs::File::create(&log).expect("a log file in the temp dir");
    let child = Command::new(env!("CARGO_BIN_EXE_telbot-programs"))
        .arg(name)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("the program starts");
    Program { child, log }
}

/// SIGTERM, then waits for a clean exit.
async fn stop(mut p: Program) {
    let ok = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -TERM");
    for _ in 0..200 {
        if let Ok(Some(status)) = p.child.try_wait() {
            assert!(
                status.success(),
                "the program exited with {status}; its stderr:\n{}",
                log_of(&p.log)
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the program did not exit within 20 s of SIGTERM (killed); its stderr:\n{}",
        log_of(&p.log)
    );
}

/// telegram-sim, a store in `dir` and the environment a program reads.
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

/// Starts program `name` (its `n`-th start in this world) and waits until it registered
/// its webhook.
async fn run(
    name: &str,
    sim: &Sim,
    env: &[(String, String)],
    dir: &tempfile::TempDir,
    n: usize,
) -> Program {
    let p = start(name, env, dir.path().join(format!("{name}-{n}.log")));
    let registered = sim
        .wait_for(Duration::from_secs(30), |s| {
            s.calls_to("setWebhook").len() == n
        })
        .await;
    assert!(
        registered,
        "{name} registered its webhook; its stderr:\n{}",
        log_of(&p.log)
    );
    p
}

/// A call's `chat_id`, sent as a number or as text.
fn chat_of(params: &Value) -> Option<i64> {
    match &params["chat_id"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// What chat `chat` saw from the bot, in order: a sent text as itself, an edit as
/// `edit #<message id>: <text>`, a dice as `dice <emoji>`.
fn transcript(sim: &Sim, chat: i64) -> Vec<String> {
    sim.calls()
        .into_iter()
        .filter(|c| chat_of(&c.params) == Some(chat))
        .filter_map(|c| {
            let p = &c.params;
            let text = p["text"].as_str().unwrap_or_default();
            match c.method.as_str() {
                "sendMessage" => Some(text.to_owned()),
                "editMessageText" => Some(format!("edit #{}: {text}", p["message_id"])),
                "sendDice" => Some(format!("dice {}", p["emoji"].as_str().unwrap_or("🎲"))),
                _ => None,
            }
        })
        .collect()
}

/// Waits until chat `chat` saw `n` things from the bot and returns them all.
async fn seen(sim: &Sim, chat: i64, n: usize, p: &Program) -> Vec<String> {
    let arrived = sim.wait_for(WAIT, |s| transcript(s, chat).len() >= n).await;
    let t = transcript(sim, chat);
    assert!(
        arrived,
        "chat {chat} saw {} of {n}: {t:?}; the program's stderr:\n{}",
        t.len(),
        log_of(&p.log)
    );
    t
}

/// Sends `text` (a command if it starts with `/`) from private chat `chat` and checks
/// that the chat has seen exactly `expected` from the bot since the start.
async fn say(sim: &Sim, p: &Program, chat: i64, text: &str, expected: &[&str]) {
    if text.starts_with('/') {
        sim.inject(Upd::command(chat, text));
    } else {
        sim.inject(Upd::text(chat, text));
    }
    assert_eq!(seen(sim, chat, expected.len(), p).await, expected);
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repl_mirrors_text_and_signs_with_its_username() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (sim, env) = world(&dir).await;
    let p = run("repl", &sim, &env, &dir, 1).await;
    say(&sim, &p, 3, "hello", &["olleh (mirrored by @sim_test_bot)"]).await;
    sim.inject(Upd::location(3, 52.52, 13.40));
    let mut expected = vec![
        "olleh (mirrored by @sim_test_bot)",
        "I can only mirror text.",
    ];
    assert_eq!(seen(&sim, 3, 2, &p).await, expected);
    // Another chat has its own conversation.
    say(
        &sim,
        &p,
        4,
        "abc def",
        &["fed cba (mirrored by @sim_test_bot)"],
    )
    .await;
    expected.push("!ti kniht I (mirrored by @sim_test_bot)");
    say(&sim, &p, 3, "I think it!", &expected).await;
    stop(p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_repl_answers_parsed_commands_and_ignores_the_rest() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (sim, env) = world(&dir).await;
    let p = run("commands_repl", &sim, &env, &dir, 1).await;
    let help = "I understand these commands:\n\n\
                /help — show this list.\n\
                /shout — repeat your text in capitals.\n\
                /sum — add two whole numbers.\n\
                /greet — greet someone from somewhere.";
    let mut expected = vec![help];
    say(&sim, &p, 5, "/help", &expected).await;
    expected.push("QUIET PLEASE!");
    say(&sim, &p, 5, "/shout quiet please", &expected).await;
    // Not commands, or not parsable as one: no answer, as with teloxide.
    sim.inject(Upd::text(5, "just chatting"));
    sim.inject(Upd::command(5, "/sum 1 x"));
    sim.inject(Upd::command(5, "/nope"));
    expected.push("2 + 40 = 42");
    say(&sim, &p, 5, "/sum 2 40", &expected).await;
    expected.push("Hello, Ada from London!");
    say(&sim, &p, 5, "/greet Ada London", &expected).await;
    stop(p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatcher_converts_hints_leaves_the_rest_to_the_default_handler_and_retries_errors() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (sim, mut env) = world(&dir).await;
    // One attempt per Bot API call: a failure reaches the endpoint (with telbot's default of
    // 3 the client retries it inside the call and the handler never sees it).
    env.push(("TELBOT__TELEGRAM__MAX_ATTEMPTS".into(), "1".into()));
    let p = run("dispatcher", &sim, &env, &dir, 1).await;
    let hint = "Temperatures:\n\n\
                /c2f — degrees Celsius to Fahrenheit.\n\
                /f2c — degrees Fahrenheit to Celsius.";
    let mut expected = vec!["100°C = 212.0°F"];
    say(&sim, &p, 6, "/c2f 100", &expected).await;
    expected.push("212°F = 100.0°C");
    say(&sim, &p, 6, "/f2c 212", &expected).await;
    // A command that does not parse is text to the next branch.
    expected.push(hint);
    say(&sim, &p, 6, "/c2f warm", &expected).await;
    // An edit and a location match no branch: the default handler takes them, no reply.
    sim.inject(Upd::edited_text(6, "/c2f 1"));
    sim.inject(Upd::location(6, 1.0, 2.0));
    expected.push("-40°C = -40.0°F");
    say(&sim, &p, 6, "/c2f -40", &expected).await;

    // The reply fails once (the connection drops): the endpoint returns the error, the error
    // handler logs it and the inbox runs the update again, so the reply arrives once.
    sim.fail_method("sendMessage", ApiFault::Drop, 1);
    expected.push("0°C = 32.0°F");
    expected.push("0°C = 32.0°F");
    say(&sim, &p, 6, "/c2f 0", &expected).await;
    let delivered: Vec<String> = sim
        .sent_messages()
        .into_iter()
        .filter(|m| m.chat_id == 6)
        .map(|m| m.text)
        .collect();
    assert_eq!(
        delivered,
        strings(&[
            "100°C = 212.0°F",
            "212°F = 100.0°C",
            hint,
            "-40°C = -40.0°F",
            "0°C = 32.0°F"
        ])
    );
    let log = log_of(&p.log);
    assert!(
        log.contains("An error has occurred in the temperature bot"),
        "the error handler's text is logged; stderr:\n{log}"
    );
    stop(p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_share_one_counter_across_chats() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (sim, env) = world(&dir).await;
    let p = run("shared_state", &sim, &env, &dir, 1).await;
    say(&sim, &p, 7, "a", &["Message 1 overall, 1 from this chat."]).await;
    say(
        &sim,
        &p,
        7,
        "b",
        &[
            "Message 1 overall, 1 from this chat.",
            "Message 2 overall, 2 from this chat.",
        ],
    )
    .await;
    say(&sim, &p, 8, "c", &["Message 3 overall, 1 from this chat."]).await;
    say(
        &sim,
        &p,
        7,
        "d",
        &[
            "Message 1 overall, 1 from this chat.",
            "Message 2 overall, 2 from this chat.",
            "Message 4 overall, 3 from this chat.",
        ],
    )
    .await;
    stop(p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middlewares_filter_groups_and_non_text_and_map_the_mood_in() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (sim, env) = world(&dir).await;
    let p = run("middlewares", &sim, &env, &dir, 1).await;
    let mut expected = vec!["That sounds cheerful (4 words)."];
    say(&sim, &p, 9, "I am so happy", &expected).await;
    // dptree::filter drops group chats; filter_map drops messages without text.
    sim.inject(Upd::text(-900, "I am so happy").from_user(9));
    sim.inject(Upd::location(9, 1.0, 2.0));
    expected.push("That sounds gloomy (2 words). Chin up!");
    say(&sim, &p, 9, "awful day", &expected).await;
    expected.push("I can't tell how you feel from 3 words.");
    say(&sim, &p, 9, "happy but sad", &expected).await;
    assert!(
        transcript(&sim, -900).is_empty(),
        "nothing went to the group"
    );
    stop(p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_queries_are_answered_and_keyboard_presses_edit_the_message() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (sim, env) = world(&dir).await;
    let p = run("inline", &sim, &env, &dir, 1).await;

    sim.inject(Upd::inline_query(10, "Tea time"));
    sim.inject(Upd::inline_query(10, ""));
    let answered = sim
        .wait_for(WAIT, |s| s.calls_to("answerInlineQuery").len() >= 2)
        .await;
    assert!(answered, "stderr:\n{}", log_of(&p.log));
    let answers = sim.calls_to("answerInlineQuery");
    let results: Vec<Value> = answers
        .iter()
        .map(|c| {
            let raw = &c.params["results"];
            raw.as_str()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_else(|| raw.clone())
        })
        .collect();
    let article = |id: &str, title: &str, text: &str| {
        json!({"type": "article", "id": id, "title": title,
               "input_message_content": {"message_text": text}})
    };
    assert_eq!(
        results,
        vec![
            json!([
                article("upper", "In capitals", "TEA TIME"),
                article("reversed", "Backwards", "emit aeT")
            ]),
            json!([])
        ]
    );
    for a in &answers {
        assert_eq!(a.params["cache_time"], 0);
        assert!(
            a.params["inline_query_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );
    }

    // A message gets the picker (message 2 of the chat: the user's is 1).
    say(&sim, &p, 10, "hi", &["Pick a colour:"]).await;
    let keyboard = sim.sent_messages()[0]
        .reply_markup
        .clone()
        .unwrap_or_default();
    assert_eq!(
        keyboard["inline_keyboard"][0],
        json!([
            {"text": "Red", "callback_data": "red"},
            {"text": "Green", "callback_data": "green"},
            {"text": "Blue", "callback_data": "blue"}
        ])
    );
    sim.inject(Upd::callback(10, "green"));
    assert_eq!(
        seen(&sim, 10, 2, &p).await,
        ["Pick a colour:", "edit #2: Your colour: green"]
    );
    let answered = sim
        .wait_for(WAIT, |s| !s.calls_to("answerCallbackQuery").is_empty())
        .await;
    assert!(answered, "the press was answered");
    let press = &sim.calls_to("answerCallbackQuery")[0].params;
    assert_eq!(press["text"], "You picked green.");
    assert!(
        press["callback_query_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    stop(p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dialogue_walks_its_states_and_survives_a_restart_half_way() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (sim, env) = world(&dir).await;
    let p = run("dialogue", &sim, &env, &dir, 1).await;
    let mut expected = vec!["A pizza! Small, medium or large?"];
    say(&sim, &p, 11, "hungry", &expected).await;
    expected.push("Please answer small, medium or large.");
    say(&sim, &p, 11, "huge", &expected).await;
    expected.push("A large one. Which topping?");
    say(&sim, &p, 11, "Large", &expected).await;
    // Chat 12 starts its own order meanwhile.
    say(&sim, &p, 12, "pizza", &["A pizza! Small, medium or large?"]).await;
    stop(p).await;

    // A new process: both dialogues' states come from the store.
    let p = run("dialogue", &sim, &env, &dir, 2).await;
    expected.push("Where should it go?");
    say(&sim, &p, 11, "mushroom", &expected).await;
    expected.push("A large mushroom pizza to 1 Main St. Shall I order it? (yes/no)");
    say(&sim, &p, 11, "1 Main St", &expected).await;
    expected.push("Please answer yes or no.");
    say(&sim, &p, 11, "maybe", &expected).await;
    expected.push("Ordered: a large mushroom pizza to 1 Main St.");
    say(&sim, &p, 11, "yes", &expected).await;
    // The dialogue ended: the next message starts a new one.
    expected.push("A pizza! Small, medium or large?");
    say(&sim, &p, 11, "again", &expected).await;
    expected.push("Order cancelled.");
    say(&sim, &p, 11, "/cancel", &expected).await;

    let mut other = vec![
        "A pizza! Small, medium or large?",
        "A small one. Which topping?",
    ];
    say(&sim, &p, 12, "small", &other).await;
    other.push("Order cancelled.");
    say(&sim, &p, 12, "/cancel", &other).await;
    other.push("A pizza! Small, medium or large?");
    say(&sim, &p, 12, "medium", &other).await;
    stop(p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_dice_throws_and_the_bot_reads_the_value() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (sim, env) = world(&dir).await;
    let p = run("dice", &sim, &env, &dir, 1).await;
    // telegram-sim's value is `(message_id - 1) % max + 1`; the chat's ids count the
    // user's command, the dice and the reply.
    let mut expected = vec!["dice 🎲", "The die shows 2."];
    say(&sim, &p, 13, "/roll", &expected).await;
    expected.extend(["dice 🏀", "The shot scores 5."]);
    say(&sim, &p, 13, "/hoop", &expected).await;
    sim.inject(Upd::text(13, "not a game"));
    expected.extend(["dice 🎯", "The dart scores 3."]);
    say(&sim, &p, 13, "/darts", &expected).await;
    stop(p).await;
}

/// The documented migration, applied to one line of a plain program: `None` drops the
/// line. `alias` is the program's `type X = InMemStorage<State>;` name, if any; `next` is
/// the line after this one.
fn migrate(line: &str, next: Option<&str>, alias: Option<&str>) -> Option<String> {
    let indent = &line[..line.len() - line.trim_start().len()];
    let t = line.trim();
    if t == "let bot = Bot::from_env();" {
        return Some(format!(
            "{indent}let cfg = bot_server::BotConfig::from_env_or_exit();"
        ));
    }
    if let Some(rest) = t.strip_prefix(".dependencies(dptree::deps![") {
        let items: Vec<&str> = rest
            .trim_end_matches("])")
            .split(',')
            .map(str::trim)
            .filter(|i| {
                let storage = *i == "InMemStorage::<State>::new()"
                    || alias.is_some_and(|a| *i == format!("{a}::new()"));
                !i.is_empty() && !storage
            })
            .collect();
        if items.is_empty() {
            return None;
        }
        return Some(format!(
            "{indent}.dependencies(dptree::deps![{}])",
            items.join(", ")
        ));
    }
    if t.starts_with("#[derive(") && next.is_some_and(|n| n.trim_start().starts_with("enum State"))
    {
        return Some(line.replace(")]", ", serde::Serialize, serde::Deserialize)]"));
    }
    let mut out = line
        .replace("teloxide::repl(bot, ", "bot_server::repl(cfg, ")
        .replace(
            "Dispatcher::builder(bot, ",
            "bot_server::Dispatcher::builder(cfg, ",
        )
        .replace(
            "teloxide::dispatching::dialogue::InMemStorage<State>",
            "bot_server::TelbotStorage",
        )
        .replace("InMemStorage<State>", "bot_server::TelbotStorage");
    // `Command::repl(bot, handler)` →
    // `bot_server::commands_repl(cfg, handler, std::marker::PhantomData::<Command>)`
    // (teloxide 0.17's `BotCommands` has no `ty()`).
    if let Some(at) = out.find("::repl(bot, ") {
        let start = out[..at]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let ty = out[start..at].to_owned();
        let args = &out[at + "::repl(bot, ".len()..];
        if let Some(close) = args.find(')')
            && !ty.is_empty()
            && ty != "teloxide"
        {
            let handler = &args[..close];
            out = format!(
                "{}bot_server::commands_repl(cfg, {handler}, std::marker::PhantomData::<{ty}>){}",
                &out[..start],
                &args[close + 1..]
            );
        }
    }
    Some(out)
}

/// The plain program with the documented migration applied, and how many of its lines
/// that changed or dropped.
fn migrated(plain: &str) -> (String, usize) {
    let lines: Vec<&str> = plain.lines().collect();
    let alias = lines.iter().find_map(|l| {
        let rest = l.trim().strip_prefix("type ")?;
        let (name, ty) = rest.split_once(" = ")?;
        ty.trim_end_matches(';')
            .ends_with("InMemStorage<State>")
            .then_some(name)
    });
    let mut out = Vec::new();
    let mut changed = 0;
    for (i, line) in lines.iter().enumerate() {
        match migrate(line, lines.get(i + 1).copied(), alias) {
            Some(new) => {
                if new != *line {
                    changed += 1;
                }
                out.push(new);
            }
            None => changed += 1,
        }
    }
    (out.join("\n") + "\n", changed)
}

/// Each program's pair, compiled into the test so the check reads the files the binary
/// was built from.
const PAIRS: &[(&str, &str, &str)] = &[
    (
        "repl",
        include_str!("../src/plain/repl.rs"),
        include_str!("../src/telbot/repl.rs"),
    ),
    (
        "commands_repl",
        include_str!("../src/plain/commands_repl.rs"),
        include_str!("../src/telbot/commands_repl.rs"),
    ),
    (
        "dispatcher",
        include_str!("../src/plain/dispatcher.rs"),
        include_str!("../src/telbot/dispatcher.rs"),
    ),
    (
        "shared_state",
        include_str!("../src/plain/shared_state.rs"),
        include_str!("../src/telbot/shared_state.rs"),
    ),
    (
        "middlewares",
        include_str!("../src/plain/middlewares.rs"),
        include_str!("../src/telbot/middlewares.rs"),
    ),
    (
        "inline",
        include_str!("../src/plain/inline.rs"),
        include_str!("../src/telbot/inline.rs"),
    ),
    (
        "dialogue",
        include_str!("../src/plain/dialogue.rs"),
        include_str!("../src/telbot/dialogue.rs"),
    ),
    (
        "dice",
        include_str!("../src/plain/dice.rs"),
        include_str!("../src/telbot/dice.rs"),
    ),
];

#[test]
fn each_hosted_program_is_its_plain_teloxide_program_with_only_the_documented_changes() {
    let mut counts = Vec::new();
    for (name, plain, telbot) in PAIRS {
        assert!(
            !plain.contains("bot_server"),
            "plain/{name}.rs is plain teloxide"
        );
        assert!(
            plain.contains("#[tokio::main]\npub async fn main()")
                && telbot.contains("#[tokio::main]\npub async fn main()"),
            "{name}: both have the same `main`"
        );
        let (expected, changed) = migrated(plain);
        let (want, got): (Vec<&str>, Vec<&str>) =
            (expected.lines().collect(), telbot.lines().collect());
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            assert_eq!(
                g,
                w,
                "telbot/{name}.rs line {}: only the documented changes are allowed",
                i + 1
            );
        }
        assert_eq!(
            got.len(),
            want.len(),
            "telbot/{name}.rs has as many lines as the migrated plain one"
        );
        assert!(
            (1..=5).contains(&changed),
            "{name}: {changed} lines changed (1 to 5 allowed)"
        );
        counts.push((*name, changed));
    }
    assert_eq!(
        counts,
        [
            ("repl", 2),
            ("commands_repl", 2),
            ("dispatcher", 2),
            ("shared_state", 2),
            ("middlewares", 2),
            ("inline", 2),
            ("dialogue", 5),
            ("dice", 2),
        ],
        "lines changed per program"
    );
}

#[test]
fn the_migration_rewrites_each_documented_shape() {
    let m = |l: &str| migrate(l, None, None);
    assert_eq!(
        m("    Command::repl(bot, answer).await;").as_deref(),
        Some(
            "    bot_server::commands_repl(cfg, answer, std::marker::PhantomData::<Command>).await;"
        )
    );
    assert_eq!(
        m("    teloxide::repl(bot, |bot: Bot| async move {").as_deref(),
        Some("    bot_server::repl(cfg, |bot: Bot| async move {")
    );
    assert_eq!(
        m("        .dependencies(dptree::deps![InMemStorage::<State>::new(), counter])").as_deref(),
        Some("        .dependencies(dptree::deps![counter])")
    );
    assert_eq!(
        m("        .dependencies(dptree::deps![InMemStorage::<State>::new()])"),
        None
    );
    assert_eq!(
        m("type MyDialogue = Dialogue<State, InMemStorage<State>>;").as_deref(),
        Some("type MyDialogue = Dialogue<State, bot_server::TelbotStorage>;")
    );
    assert_eq!(
        migrate("#[derive(Clone, Default)]", Some("enum State {"), None).as_deref(),
        Some("#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]")
    );
    assert_eq!(
        migrate("#[derive(Clone, Default)]", Some("enum Other {"), None).as_deref(),
        Some("#[derive(Clone, Default)]")
    );
}

#[test]
fn a_hosted_program_without_its_configuration_exits_78_and_an_unknown_name_64() {
    let bin = env!("CARGO_BIN_EXE_telbot-programs");
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = Command::new(bin)
        .arg("repl")
        .env_clear()
        .current_dir(dir.path())
        .output()
        .expect("the program runs");
    assert_eq!(
        out.status.code(),
        Some(78),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(bin)
        .arg("no_such_program")
        .output()
        .expect("the program runs");
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("programs: repl, commands_repl"));
}
