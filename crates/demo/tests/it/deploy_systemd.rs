//! deploy/systemd/: `systemd-analyze verify` accepts every unit without a warning (ExecStart
//! pointed at stand-in executables, since verify needs them to exist), the hardening options
//! are there, and deploy/crontab runs `watchdog check`. Fails, never skips, without
//! systemd-analyze (`apt-get install -y systemd`; CI installs it).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const UNITS: [&str; 4] = [
    "bot-server.service",
    "watchdog.service",
    "watchdog-check.service",
    "watchdog-check.timer",
];

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(deploy().join(rel)).unwrap_or_else(|e| panic!("deploy/{rel}: {e}"))
}

/// Copies the units into `dir`, ExecStart pointed at stand-ins in `dir/bin`; returns the
/// verify output (stdout + stderr) and whether it exited 0.
fn verify(dir: &Path, edit: impl Fn(&str, String) -> String) -> (bool, String) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for b in ["bot-server", "watchdog"] {
        let p = bin.join(b);
        std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut args = vec!["verify".to_string(), "--man=no".to_string()];
    for u in UNITS {
        let text = read(&format!("systemd/{u}"))
            .replace("/usr/local/bin/", &format!("{}/", bin.display()));
        let path = dir.join(u);
        std::fs::write(&path, edit(u, text)).unwrap();
        args.push(path.display().to_string());
    }
    let out = Command::new("systemd-analyze")
        .args(&args)
        .output()
        .unwrap_or_else(|e| {
            panic!("systemd-analyze is required for this test ({e}): apt-get install -y systemd")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Output lines about our units (verify also comments on the host's own units at times).
fn ours(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| UNITS.iter().any(|u| l.contains(u)))
        .collect()
}

#[test]
fn systemd_analyze_verify_accepts_every_unit_without_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = verify(dir.path(), |_, t| t);
    assert!(ok, "systemd-analyze verify failed:\n{text}");
    assert!(ours(&text).is_empty(), "warnings about our units:\n{text}");
}

#[test]
fn the_verify_check_catches_a_typo_and_a_missing_binary() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = verify(dir.path(), |u, t| {
        if u == "bot-server.service" {
            t.replace("ProtectSystem=strict", "ProtectSytem=strict")
        } else {
            t
        }
    });
    assert!(
        ours(&text).iter().any(|l| l.contains("ProtectSytem")),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = verify(dir.path(), |u, t| {
        if u == "watchdog.service" {
            t.replace("/bin/watchdog run", "/bin/missing run")
        } else {
            t
        }
    });
    assert!(!ok, "a missing ExecStart binary fails verify:\n{text}");
}

#[test]
fn the_units_carry_restart_limits_and_hardening() {
    for u in [
        "bot-server.service",
        "watchdog.service",
        "watchdog-check.service",
    ] {
        let t = read(&format!("systemd/{u}"));
        for want in [
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "ReadWritePaths=/var/lib/telbot",
            "MemoryMax=",
            "CapabilityBoundingSet=\n",
            "User=telbot",
        ] {
            assert!(t.contains(want), "{u} has {want:?}");
        }
    }
    let bot = read("systemd/bot-server.service");
    assert!(
        bot.contains("Restart=on-failure") && bot.contains("ExecStart=/usr/local/bin/bot-server\n")
    );
    let wd = read("systemd/watchdog.service");
    assert!(
        wd.contains("Restart=on-failure") && wd.contains("ExecStart=/usr/local/bin/watchdog run\n")
    );
    let check = read("systemd/watchdog-check.service");
    assert!(
        check.contains("Type=oneshot")
            && check.contains("ExecStart=/usr/local/bin/watchdog check\n")
    );
    assert!(
        check.contains("SuccessExitStatus=1"),
        "exit 1 (warning/repaired) is not a failed unit"
    );
    let timer = read("systemd/watchdog-check.timer");
    assert!(
        timer.contains("Unit=watchdog-check.service") && timer.contains("OnUnitActiveSec=1min")
    );
}

#[test]
fn the_crontab_line_runs_watchdog_check_every_minute() {
    let t = read("crontab");
    let lines: Vec<&str> = t
        .lines()
        .filter(|l| {
            !l.starts_with('#') && !l.split_whitespace().next().unwrap_or("=").contains('=')
        })
        .collect();
    assert_eq!(lines.len(), 1, "{t}");
    let f: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(&f[..5], ["*", "*", "*", "*", "*"]);
    assert_eq!(f[5], "telbot", "system crontab format names the user");
    assert!(lines[0].contains("exec watchdog check"), "{t}");
}
