//! Runs the built `telbot-demo --once` and checks its closing report: every update answered,
//! none dropped, exactly one CRITICAL and one RESOLVED e-mail received by the mail catcher.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_demo_plays_the_incident_and_reports_no_loss_and_two_emails() {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_telbot-demo"))
        .arg("--once")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the demo binary starts");
    let limit = Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the demo did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        status.success(),
        "exit {status:?}\nstdout:\n{out}\nstderr:\n{err}"
    );

    let line = out
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("DEMO_REPORT "))
        .unwrap_or_else(|| panic!("the last line is the machine-readable report:\n{out}"));
    let r: serde_json::Value = serde_json::from_str(line).unwrap();
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
    assert!(
        n("sent") > 12,
        "normal traffic and traffic during the incident: {r}"
    );
    assert_eq!(n("sent"), n("answered"), "every update answered: {r}");
    assert_eq!(n("dropped"), 0, "{r}");
    assert!(
        n("recoveries") >= 1 && n("replayed") >= 1,
        "the watchdog replayed updates: {r}"
    );
    assert_eq!(n("drained"), n("replayed"), "{r}");
    assert_eq!(n("critical_emails"), 1, "{r}");
    assert_eq!(n("resolved_emails"), 1, "{r}");
    let subjects: Vec<&str> = r["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(subjects.len(), 2, "no other e-mail: {subjects:?}");
    assert!(
        subjects[0].starts_with("[CRITICAL] telbot-demo: "),
        "{subjects:?}"
    );
    assert!(
        subjects[1].starts_with("[RESOLVED] telbot-demo: "),
        "{subjects:?}"
    );
    assert!(
        r["detect_s"].as_f64().unwrap() >= 0.0 && r["recover_s"].as_f64().unwrap() >= 0.0,
        "{r}"
    );
    assert_eq!(r["ok"], true);
    // The human part names the dashboard and the admin token.
    assert!(out.contains("/bot/dashboard"), "{out}");
    assert!(out.contains("admin token"), "{out}");
}
