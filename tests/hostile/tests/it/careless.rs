//! A careless operator: every binary that reads the config is run with a broken config that
//! holds recognisable secrets, and nothing it prints may hold one; a store path that cannot
//! be written gives one line with the real cause. (telegram-sim takes no config: only
//! `--token` on its command line, so it is not run here.)

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use telbot_hostile::binary;

const SECRETS: &[&str] = &[
    "TOKSECRET_aaa111",
    "WHSECRET_bbb222",
    "ADMSECRET_ccc333",
    "SMTPSECRET_ddd444",
    "URLSECRET_eee555",
    "DBSECRET_fff666",
    "AISECRET_ggg777",
];

/// Runs `bin args` with only `env` (plus PATH), for at most 60 s; exit code and all output.
fn run(bin: &Path, args: &[&str], env: &[(&str, String)], dir: &Path) -> (Option<i32>, String) {
    let out = dir.join("out.log");
    let f = std::fs::File::create(&out).unwrap();
    let mut child = Command::new(bin)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", dir)
        .env("RUST_LOG", "debug")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} still running after 60 s", bin.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (code, std::fs::read_to_string(out).unwrap_or_default())
}

/// What is broken, the config file's text (or none), the environment.
type Case = (&'static str, Option<String>, Vec<(&'static str, String)>);

fn token() -> (&'static str, String) {
    ("TELEGRAM_BOT_TOKEN", format!("123456:{}", SECRETS[0]))
}

#[test]
fn no_binary_prints_a_secret_from_a_broken_config() {
    let bot = binary("telbot-reference-bot", "bot-server").unwrap();
    let watchdog = binary("watchdog", "watchdog").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    let file_s = file.display().to_string();
    let db_path = format!("sqlite://{}/t.db", dir.path().display());
    let cases: Vec<Case> = vec![
        (
            "unquoted token in the file",
            Some(format!("[telegram]\ntoken = 123456:{}\n", SECRETS[0])),
            vec![],
        ),
        (
            "unquoted secret beside a typo'd section",
            Some(format!(
                "[servr]\nadmin_token = {}\n[webhook]\nsecret = \"{}\"\n",
                SECRETS[2], SECRETS[1]
            )),
            vec![token()],
        ),
        (
            "webhook secret with characters Telegram refuses",
            None,
            vec![
                token(),
                ("WEBHOOK_SECRET", format!("{} with spaces!", SECRETS[1])),
            ],
        ),
        (
            "admin token too short, unknown key",
            None,
            vec![
                token(),
                ("ADMIN_TOKEN", "ADMSEC".into()),
                ("TELBOT__SERVER__PORTT", SECRETS[2].into()),
            ],
        ),
        (
            "public url with a password and a query",
            None,
            vec![
                token(),
                (
                    "PUBLIC_URL",
                    format!("http://user:{}@bot.example.com/?a=b", SECRETS[4]),
                ),
            ],
        ),
        (
            "SMTP AUTH in clear to a remote host",
            None,
            vec![
                token(),
                (
                    "SMTP_URL",
                    format!("smtp://user:{}@mail.example.com:25", SECRETS[3]),
                ),
                ("ALERT_EMAIL_TO", "oncall@example.com".into()),
                ("ALERT_EMAIL_FROM", "bot@example.com".into()),
            ],
        ),
        (
            "AI endpoint that is not a URL, with a key",
            None,
            vec![
                token(),
                ("TELBOT__AI__BASE_URL", "not a url".into()),
                ("TELBOT__AI__API_KEY", SECRETS[6].into()),
                ("DATABASE_URL", db_path.clone()),
            ],
        ),
        (
            "database that refuses connections",
            None,
            vec![
                token(),
                (
                    "DATABASE_URL",
                    format!("postgres://telbot:{}@127.0.0.1:1/telbot", SECRETS[5]),
                ),
                ("TELBOT__STORE__ACQUIRE_TIMEOUT", "1s".into()),
                ("TELEGRAM_API_URL", "http://127.0.0.1:1".into()),
            ],
        ),
    ];
    let mut leaks = Vec::new();
    for (what, text, env) in &cases {
        let mut args_bot: Vec<&str> = Vec::new();
        let mut args_wd: Vec<&str> = Vec::new();
        if let Some(t) = text {
            std::fs::write(&file, t).unwrap();
            args_bot.extend(["--config", file_s.as_str()]);
            args_wd.extend(["--config", file_s.as_str()]);
        }
        args_wd.push("check");
        // SMTP is the watchdog's alone: bot-server rightly starts with it.
        let bins = if what.starts_with("SMTP") {
            vec![(&watchdog, &args_wd)]
        } else {
            vec![(&bot, &args_bot), (&watchdog, &args_wd)]
        };
        for (bin, args) in bins {
            let (code, out) = run(bin, args, env, dir.path());
            let name = bin.file_name().unwrap().to_string_lossy();
            assert_ne!(
                code,
                Some(0),
                "{name} accepted a broken config ({what}):\n{out}"
            );
            assert!(!out.trim().is_empty(), "{name} said nothing about {what}");
            for s in SECRETS {
                if out.contains(s) {
                    leaks.push(format!("{name} ({what}) printed {s}:\n{out}"));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n---\n"));
}

#[test]
fn a_store_that_cannot_be_written_gives_one_line_with_the_cause() {
    let bot = binary("telbot-reference-bot", "bot-server").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "this is not a database ".repeat(200)).unwrap();
    for (url, cause) in [
        (
            format!("sqlite://{}?mode=ro", empty.display()),
            "attempt to write a readonly database",
        ),
        (
            format!("sqlite://{}", junk.display()),
            "file is not a database",
        ),
    ] {
        let env = [
            token(),
            ("DATABASE_URL", url.clone()),
            ("BOT_MODE", "polling".into()),
            ("PORT", "0".into()),
            ("RUST_LOG", "warn".into()),
            ("TELEGRAM_API_URL", "http://127.0.0.1:1".into()),
        ];
        let (code, out) = run(&bot, &[], &env, dir.path());
        assert_eq!(code, Some(1), "{url}:\n{out}");
        let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{url}: one line expected:\n{out}");
        assert!(lines[0].contains(cause), "{url}: {out}");
        assert!(!out.contains("pool timed out"), "{url}: {out}");
    }
}
