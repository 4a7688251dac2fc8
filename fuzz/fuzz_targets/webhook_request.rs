//! The webhook request path through the router (no socket): the first byte chooses the
//! secret header (none, right, wrong, twice) and whether Content-Length is sent, the rest is
//! the body. The answer must be one of the contract's statuses.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const SECRET: &str = "fuzz_secret";

struct Harness {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let env: std::collections::HashMap<String, String> = [
            ("TELEGRAM_BOT_TOKEN", "123:fuzz".to_string()),
            ("TELEGRAM_API_URL", "http://127.0.0.1:9".to_string()),
            ("BOT_MODE", "polling".to_string()),
            ("WEBHOOK_SECRET", SECRET.to_string()),
            (
                "DATABASE_URL",
                format!("sqlite://{}/fuzz.db", dir.path().display()),
            ),
            ("DATA_DIR", dir.path().display().to_string()),
            ("TELBOT__TELEGRAM__MAX_ATTEMPTS", "1".to_string()),
            ("TELBOT__STORE__SQLITE_SYNCHRONOUS", "normal".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let cfg = bot_server::BotConfig::load(None, &env).expect("config");
        let router = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let app = telbot_reference_bot::program(cfg, None, &env)
                .expect("reference bot config")
                .listener(listener)
                .start()
                .await
                .expect("app");
            bot_server::routes::router(app.state())
        });
        Harness {
            rt,
            router,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let h = harness();
    let mut req = Request::post("/webhook");
    match mode & 3 {
        0 => {}
        1 => req = req.header("x-telegram-bot-api-secret-token", SECRET),
        2 => req = req.header("x-telegram-bot-api-secret-token", "wrong"),
        _ => {
            req = req
                .header("x-telegram-bot-api-secret-token", SECRET)
                .header("x-telegram-bot-api-secret-token", SECRET)
        }
    }
    if mode & 4 != 0 {
        req = req.header("content-length", body.len());
    }
    let req = req.body(Body::from(body.to_vec())).expect("request");
    let status =
        h.rt.block_on(h.router.clone().oneshot(req))
            .expect("infallible")
            .status()
            .as_u16();
    assert!(
        matches!(status, 200 | 400 | 401 | 408 | 413 | 503),
        "status {status}"
    );
});
