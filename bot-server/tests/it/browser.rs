//! The dashboard in a real browser: headless Chromium driven through chromedriver (W3C
//! WebDriver spoken over reqwest, so no extra client crate) against a telegram-sim and the bot
//! in-process. It is refused without the token; with it the figures change as updates arrive;
//! the banner appears within one refresh after webhook delivery breaks; "Emergency recovery"
//! fixes it and shows the report. Screenshots of each state go to
//! `target/test-artifacts/dashboard/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); without them
//! the test fails and says so. `CHROMIUM` and `CHROMEDRIVER` override the paths.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use serde_json::{Value, json};
use telegram_sim::{Upd, WebhookFault};

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
    chromium: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(var: &str, default: &str, package: &str) -> String {
    let path = std::env::var(var).unwrap_or_else(|_| default.to_string());
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} is missing: the browser test needs Debian's {package} \
         (apt-get install -y chromium chromium-driver; .ci/run installs it) or {var}=/path"
    );
    path
}

async fn start_driver() -> Driver {
    let chromium = tool("CHROMIUM", "/usr/bin/chromium", "chromium");
    let driver = tool("CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let d = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: tempfile::tempdir().unwrap(),
        chromium,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = reqwest::get(format!("{}/status", d.url)).await
            && let Ok(v) = r.json::<Value>().await
            && v["value"]["ready"] == true
        {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One WebDriver session.
struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    async fn new(d: &Driver) -> Browser {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--no-proxy-server",
            "--window-size=1280,1700",
            &format!("--user-data-dir={}", d._profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": d.chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            "unhandledPromptBehavior": "ignore",
        }}});
        let http = reqwest::Client::new();
        let v: Value = http
            .post(format!("{}/session", d.url))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        Browser {
            http,
            base: format!("{}/session/{id}", d.url),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        if v["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn js(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.call(reqwest::Method::POST, "/execute/sync", Some(body))
            .await
    }

    async fn click(&self, css: &str) {
        let el = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        let id = el
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Text of the element with `data-k=key`.
    async fn figure(&self, key: &str) -> String {
        let s = format!(
            "var e=document.querySelector('[data-k=\"{key}\"]');return e?e.textContent:null;"
        );
        self.js(&s).await.as_str().unwrap_or_default().to_string()
    }

    async fn wait_js(&self, timeout: Duration, script: &str) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.js(script).await == Value::Bool(true) {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let dir = artifacts();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Console messages so far (chromedriver's log extension), if it offers them.
    async fn console(&self) -> Vec<String> {
        let r = self
            .http
            .post(format!("{}/se/log", self.base))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap_or_default();
        v["value"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| m["message"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn close(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

fn artifacts() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("test-artifacts/dashboard")
}

const LIGHT: &str = "return document.getElementById('light').className";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_headless_chromium() {
    let driver = start_driver().await;
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let refresh = Duration::from_secs(1);
    let bot = start_bot(
        &sim,
        &db,
        &[
            ("TELBOT__DASHBOARD__REFRESH", "1s"),
            ("TELBOT__DASHBOARD__HISTORY_INTERVAL", "500ms"),
            ("TELBOT__WEBHOOK__HEALTH_CACHE", "300ms"),
        ],
    )
    .await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 1)
            .await
    );
    let b = Browser::new(&driver).await;

    // 1. Refused without the token, and with a wrong one.
    b.goto(&bot.url("/bot/dashboard")).await;
    const STATUS: &str = "return performance.getEntriesByType('navigation')[0].responseStatus";
    assert_eq!(b.js(STATUS).await, 401);
    assert_eq!(
        b.js("return document.getElementById('light') === null")
            .await,
        true
    );
    b.screenshot("01-refused").await;
    b.goto(&bot.url("/bot/dashboard?token=not-the-token")).await;
    assert_eq!(b.js(STATUS).await, 401);
    assert_eq!(
        b.js("return document.getElementById('light') === null")
            .await,
        true
    );

    // 2. The one-time login: redirected to the clean URL, green, no traffic yet.
    b.goto(&bot.url(&format!("/bot/dashboard?token={ADMIN}")))
        .await;
    assert_eq!(
        b.js("return location.pathname + location.search").await,
        "/bot/dashboard"
    );
    assert_eq!(b.js(LIGHT).await, "light ok");
    assert_eq!(
        b.js("return document.getElementById('banner').hidden")
            .await,
        true
    );
    assert_eq!(b.figure("received").await, "0");
    assert_eq!(b.figure("mode").await, "webhook");
    assert_eq!(b.figure("webhook.url").await, bot.url("/webhook"));
    assert!(
        !b.js("return document.documentElement.outerHTML")
            .await
            .as_str()
            .unwrap()
            .contains(ADMIN)
    );
    b.screenshot("02-healthy").await;

    // 3. Updates arrive: the figures change without a reload.
    b.js("window.__marker = 1; return true").await;
    for chat in 1..=6 {
        sim.inject(Upd::command(chat, "/start"));
    }
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 6)
            .await
    );
    let changed = b
        .wait_js(
            Duration::from_secs(10),
            "return document.querySelector('[data-k=received]').textContent === '6' \
             && document.querySelector('[data-k=processed]').textContent === '6'",
        )
        .await;
    assert!(changed.is_some(), "received/processed never showed 6");
    assert_eq!(
        b.js("return window.__marker === 1").await,
        true,
        "the page was reloaded"
    );
    assert_ne!(b.figure("rpm").await, "0");
    assert_ne!(b.figure("ack_p99").await, "–");
    assert_eq!(b.figure("success").await, "100 %");
    // Wait for a chart point that includes the acks, then the charts have lines.
    const ACK_LINE: &str = "return document.querySelector('#chart-ack [data-line=\"1\"]').getAttribute('d').length > 0";
    b.wait_js(Duration::from_secs(10), ACK_LINE)
        .await
        .expect("the ack chart is drawn");
    b.screenshot("03-traffic").await;

    // 4. Webhook delivery breaks and updates pile up at Telegram: the banner appears within
    //    one refresh (plus the webhook-health cache) of the bot being able to see it.
    sim.break_webhook(WebhookFault::Status(500));
    for chat in 11..=18 {
        sim.inject(Upd::command(chat, "/help"));
    }
    assert!(
        sim.wait_for(
            Duration::from_secs(10),
            |s| !s.webhook_info()["last_error_message"].is_null() && s.pending_update_count() == 8
        )
        .await
    );
    let took = b
        .wait_js(
            refresh * 2 + Duration::from_secs(1),
            "return !document.getElementById('banner').hidden && \
             document.getElementById('light').className === 'light critical'",
        )
        .await;
    let took = took.expect("no critical banner within one refresh of the webhook breaking");
    eprintln!("banner after {took:?}");
    let banner = b
        .js("return document.getElementById('banner').innerText")
        .await;
    assert!(
        banner.as_str().unwrap().contains("Emergency recovery"),
        "{banner}"
    );
    assert_eq!(b.figure("webhook.pending").await, "8");
    assert!(
        b.figure("webhook.last_error")
            .await
            .contains("500 Internal Server Error")
    );
    b.screenshot("04-webhook-broken").await;

    // 5. Emergency recovery: confirm, POST with the CSRF token, the report, and green again.
    b.click("#recover").await;
    let prompt = b.call(reqwest::Method::GET, "/alert/text", None).await;
    assert!(
        prompt.as_str().unwrap().contains("emergency recovery"),
        "{prompt}"
    );
    b.call(reqwest::Method::POST, "/alert/accept", Some(json!({})))
        .await;
    b.wait_js(
        Duration::from_secs(15),
        "var r=document.getElementById('report');return !r.hidden && \
         document.getElementById('report-body').textContent.indexOf('drained') >= 0",
    )
    .await
    .expect("the recovery report is shown");
    let report = b
        .js("return document.getElementById('report-body').textContent")
        .await;
    let report = report.as_str().unwrap().to_string();
    for line in [
        "Recovery finished (HTTP 200)",
        "drained: 8",
        "replayed: 8",
        "dropped: 0",
        "webhook restored: yes",
    ] {
        assert!(report.contains(line), "report lacks {line:?}: {report}");
    }
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 14)
            .await,
        "the drained updates were answered"
    );
    b.wait_js(
        Duration::from_secs(10),
        "return document.getElementById('banner').hidden && \
         document.getElementById('light').className === 'light ok'",
    )
    .await
    .expect("green again after the recovery");
    assert_eq!(b.figure("webhook.pending").await, "0");
    b.wait_js(
        Duration::from_secs(10),
        "return document.querySelector('[data-k=received]').textContent === '14'",
    )
    .await
    .expect("the drained updates are counted");
    b.screenshot("05-recovered").await;

    // 6. Log out: the page says so, and the session no longer opens the dashboard.
    b.click("#logout").await;
    b.wait_js(
        Duration::from_secs(10),
        "return document.body.textContent.indexOf('logged out') >= 0",
    )
    .await
    .expect("the logout is shown");
    b.goto(&bot.url("/bot/dashboard")).await;
    assert_eq!(b.js(STATUS).await, 401, "the session ended");
    b.screenshot("06-logged-out").await;

    let console = b.console().await;
    assert!(
        !console
            .iter()
            .any(|m| m.contains("Content Security Policy") || m.contains("Refused to")),
        "the page broke its own CSP: {console:?}"
    );
    sim.heal_webhook();
    b.close().await;
    bot.stop().await;
}
