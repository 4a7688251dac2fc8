//! `watchdog replay-parked [--discard] [--update-id N ...]` against a stand-in of the bot's
//! admin routes (`POST /admin/parked/replay`, `POST /admin/parked/discard`: Bearer
//! ADMIN_TOKEN, optional body `{"update_ids": [..]}`, answer `{"count": n}`).

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

const ADMIN: &str = "adm1n-t0ken-parked";
/// Parked updates the stand-in holds.
const PARKED: [i64; 3] = [5, 9, 12];

type Seen = Arc<Mutex<Vec<(String, Option<Value>)>>>;

async fn parked_route(
    State(seen): State<Seen>,
    Path(verb): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {ADMIN}") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "admin token required"})),
        );
    }
    let body: Option<Value> = (!body.is_empty()).then(|| serde_json::from_slice(&body).unwrap());
    let count = match body.as_ref().and_then(|b| b["update_ids"].as_array()) {
        Some(ids) => ids
            .iter()
            .filter(|i| PARKED.contains(&i.as_i64().unwrap_or_default()))
            .count(),
        None => PARKED.len(),
    };
    seen.lock().unwrap().push((verb, body));
    (StatusCode::OK, Json(json!({ "count": count })))
}

async fn stand_in() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route("/admin/parked/{verb}", post(parked_route))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

async fn run(env: &HashMap<String, String>, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_watchdog"))
        .args(args)
        .env_clear()
        .envs(env)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("watchdog hung")
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(
        !stdout.contains(ADMIN) && !stderr.contains(ADMIN),
        "the admin token leaked:\n{stdout}\n{stderr}"
    );
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_parked_calls_the_bots_admin_routes_and_prints_the_count() {
    let sim = common::start_sim().await;
    let (url, seen) = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = common::env(&sim, &url, None, dir.path());
    env.insert("ADMIN_TOKEN".into(), ADMIN.into());

    let (code, out, err) = run(&env, &["replay-parked"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "3 parked update(s) queued again");
    assert_eq!(seen.lock().unwrap().pop(), Some(("replay".into(), None)));

    let (code, out, err) = run(
        &env,
        &[
            "replay-parked",
            "--discard",
            "--update-id",
            "5",
            "--update-id",
            "12",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "2 parked update(s) discarded");
    assert_eq!(
        seen.lock().unwrap().pop(),
        Some(("discard".into(), Some(json!({"update_ids": [5, 12]}))))
    );

    // The bot refuses (wrong token): 2.
    env.insert("ADMIN_TOKEN".into(), "not-the-token".into());
    let (code, out, err) = run(&env, &["replay-parked"]).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("the bot refused: 401"), "{err}");
    assert!(!err.contains("not-the-token"), "{err}");

    // No ADMIN_TOKEN: a configuration error, nothing sent.
    env.remove("ADMIN_TOKEN");
    let before = seen.lock().unwrap().len();
    let (code, _, err) = run(&env, &["replay-parked"]).await;
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("ADMIN_TOKEN"), "{err}");
    assert_eq!(seen.lock().unwrap().len(), before);

    // The bot cannot be reached: 2.
    env.insert("ADMIN_TOKEN".into(), ADMIN.into());
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    env.insert("BOT_URL".into(), closed_url);
    let (code, _, err) = run(&env, &["replay-parked", "--discard"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot reach the bot"), "{err}");
}
