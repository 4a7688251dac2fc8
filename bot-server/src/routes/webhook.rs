//! `POST /webhook`: secret check from the headers (constant time; before any byte of the body
//! is read) → the body, whole within `server.body_timeout` and inside the shared byte budget →
//! JSON with an integer update_id → stored in the inbox → 200. A duplicate is acknowledged; a
//! kind this build cannot parse is stored raw and acknowledged (refusing it would block every
//! update behind it); 503 while the store cannot take it, so Telegram keeps it and redelivers.

mod body;
mod reply;

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use crate::config::Mode;
use crate::inbox::NewUpdate;
use crate::serve::ConnHandle;
use crate::state::AppState;

const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

pub(super) async fn receive(State(app): State<AppState>, req: Request) -> Response {
    let started = Instant::now();
    let resp = handle(&app, req).await;
    let code = resp.status().as_u16();
    // The watchdog's canary is no delivery of Telegram's: it counts in none of the figures.
    if resp.extensions().get::<Canary>().is_some() {
        metrics::counter!("telbot_canary_requests_total", "status" => status_label(code))
            .increment(1);
        return resp;
    }
    metrics::counter!("telbot_webhook_requests_total", "status" => status_label(code)).increment(1);
    if code == 200 {
        let took = started.elapsed();
        metrics::histogram!("telbot_webhook_ack_seconds").record(took.as_secs_f64());
        app.acks.record(took);
        // A delivery arrived: an older Telegram delivery error is history (see webhook_health).
        app.webhook_health.delivered(telbot_shared::unix_now());
    }
    resp
}

fn status_label(code: u16) -> &'static str {
    match code {
        200 => "200",
        400 => "400",
        404 => "404",
        408 => "408",
        401 => "401",
        413 => "413",
        503 => "503",
        _ => "other",
    }
}

/// Whether the headers carry exactly one secret header equal to `secret`.
fn secret_ok(headers: &HeaderMap, secret: &str) -> bool {
    let mut given = headers.get_all(SECRET_HEADER).iter();
    match (given.next(), given.next()) {
        (Some(v), None) => bool::from(v.as_bytes().ct_eq(secret.as_bytes())),
        _ => false,
    }
}

async fn handle(app: &AppState, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let conn = parts.extensions.get::<ConnHandle>();
    match &app.cfg.webhook.secret {
        // Polling without a secret: nobody should post updates (a forged one could also claim
        // future update_ids, so the real ones would be dropped as duplicates).
        None if app.cfg.mode == Mode::Polling => {
            return (StatusCode::NOT_FOUND, "webhook is off in polling mode\n").into_response();
        }
        None => {}
        Some(secret) => {
            if !secret_ok(&parts.headers, secret.expose_secret()) {
                return (StatusCode::UNAUTHORIZED, "wrong or missing secret token\n")
                    .into_response();
            }
            if let Some(c) = conn {
                c.trust();
            }
        }
    }
    let limits = body::Limits {
        max_bytes: app.cfg.webhook.max_body_bytes,
        deadline: Instant::now() + app.cfg.server.body_timeout,
    };
    let budget = conn.map(|c| c.body_budget().clone());
    let (bytes, _room) = match body::read(&parts.headers, body, limits, budget).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    store(app, bytes).await
}

async fn store(app: &AppState, body: Bytes) -> Response {
    // Store the bytes as Telegram sent them (valid UTF-8, or the JSON is refused).
    let payload = match String::from_utf8(Vec::from(body)) {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("body is not JSON: {}\n", e.utf8_error()),
            )
                .into_response();
        }
    };
    let (update_id, kind, key) = match parse(payload.as_bytes()) {
        Ok(v) => v,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    if telbot_shared::canary::is_canary(update_id) {
        let mut resp = canary(app, update_id, kind, key, payload).await;
        resp.extensions_mut().insert(Canary);
        return resp;
    }
    // Registered before the insert: a worker that finishes first still finds it.
    let waiter = app.replies.as_ref().and_then(|w| w.register(update_id));
    match app
        .writer
        .insert(NewUpdate {
            update_id,
            kind,
            key,
            payload,
        })
        .await
    {
        Ok(stored) => {
            app.store_up.store(true, Ordering::Relaxed);
            match waiter {
                Some(w) => reply::answer(app, w, update_id, stored).await,
                None => StatusCode::OK.into_response(),
            }
        }
        Err(e) => {
            // checks.store judges this from the writer's commits (inbox::health) and the ping.
            tracing::warn!(update_id, error = %e, "cannot store an update; answering 503 so Telegram redelivers it");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "store unavailable, retry later\n",
            )
                .into_response()
        }
    }
}

/// update_id, kind and routing key, read in one pass without building a JSON tree
/// ([`telbot_shared::queue_key::scan`]; the handler parses the update once, later). Values
/// nobody needs are skipped without recursing, so an update nested deeper than serde_json's
/// recursion limit is accepted and classified like any other when it is valid JSON with an
/// integer top-level update_id. The error is the 400 answer's text.
/// Marks the answer to a canary, so its request counts in none of the webhook's figures.
#[derive(Clone, Copy)]
struct Canary;

/// The watchdog's canary ([`telbot_shared::canary`]): stored like any update, answered with
/// an empty 200 (never a reply). Only with a secret: the secret check is what tells the
/// watchdog from anyone else, and without one a forged id range would be open to all.
async fn canary(
    app: &AppState,
    update_id: i64,
    kind: String,
    key: String,
    payload: String,
) -> Response {
    if app.cfg.webhook.secret.is_none() {
        return (
            StatusCode::FORBIDDEN,
            "a canary update (negative update_id) needs webhook.secret (WEBHOOK_SECRET)\n",
        )
            .into_response();
    }
    let new = NewUpdate {
        update_id,
        kind,
        key,
        payload,
    };
    match app.writer.insert(new).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::warn!(update_id, error = %e, "cannot store the watchdog's canary");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "store unavailable, retry later\n",
            )
                .into_response()
        }
    }
}

fn parse(body: &[u8]) -> Result<(i64, String, String), String> {
    let head = telbot_shared::queue_key::scan(body).map_err(|e| not_json(&e))?;
    let update_id = head.update_id.ok_or_else(no_update_id)?;
    Ok((update_id, head.kind, head.key))
}

fn not_json(e: &serde_json::Error) -> String {
    format!("body is not JSON: {e}\n")
}

fn no_update_id() -> String {
    "body has no integer update_id\n".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!(
            "{{\"update_id\":7,\"message\":{}1{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        )
    }

    #[test]
    fn a_deeply_nested_update_is_accepted_and_classified() {
        let body = nested(200);
        assert!(serde_json::from_str::<serde_json::Value>(&body).is_err());
        let (id, kind, key) = parse(body.as_bytes()).unwrap_or_else(|_| panic!("refused"));
        assert_eq!((id, kind.as_str(), key.as_str()), (7, "message", "x7"));
        let deep_object = format!(
            "{{\"update_id\":8,\"message\":{}1{}}}",
            "{\"a\":".repeat(300),
            "}".repeat(300)
        );
        assert_eq!(parse(deep_object.as_bytes()).map(|p| p.0).ok(), Some(8));
    }

    #[test]
    fn deep_but_broken_or_without_an_id_is_still_400() {
        let body = nested(200);
        let broken = &body[..body.len() - 3];
        assert!(parse(broken.as_bytes()).is_err_and(|e| e.contains("not JSON")));
        let no_id = nested(200).replace("\"update_id\":7,", "");
        assert!(parse(no_id.as_bytes()).is_err_and(|e| e.contains("update_id")));
    }

    #[test]
    fn exactly_one_secret_header_is_accepted() {
        let mut h = HeaderMap::new();
        assert!(!secret_ok(&h, "s3cret"));
        h.append(
            SECRET_HEADER,
            "s3cret".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert!(secret_ok(&h, "s3cret"));
        h.append(
            SECRET_HEADER,
            "s3cret".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert!(!secret_ok(&h, "s3cret"));
        let mut h = HeaderMap::new();
        h.append(
            SECRET_HEADER,
            "wrong".parse().unwrap_or_else(|_| unreachable!()),
        );
        h.append(
            SECRET_HEADER,
            "s3cret".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert!(!secret_ok(&h, "s3cret"));
    }
}

/// Property tests: the parts of the webhook path that see untrusted bytes never panic, and
/// accept exactly what the contract says.
#[cfg(test)]
mod props {
    use super::*;
    use crate::inbox::key;
    use proptest::prelude::*;

    fn json_leaf() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            ".{0,12}".prop_map(serde_json::Value::from),
        ]
    }

    fn json() -> impl Strategy<Value = serde_json::Value> {
        json_leaf().prop_recursive(6, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z_]{1,10}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Objects whose keys are mostly the ones the classifier looks at.
    fn update_like() -> impl Strategy<Value = serde_json::Value> {
        let name = prop_oneof![
            Just("update_id".to_string()),
            Just("message".to_string()),
            Just("callback_query".to_string()),
            Just("poll".to_string()),
            Just("poll_answer".to_string()),
            Just("chat".to_string()),
            Just("from".to_string()),
            Just("user".to_string()),
            Just("id".to_string()),
            Just("poll_id".to_string()),
            "[a-z_]{1,10}",
        ];
        json_leaf().prop_recursive(5, 40, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map(name.clone(), inner, 0..5)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_bytes_are_parsed_or_refused_without_panicking(body in prop::collection::vec(any::<u8>(), 0..512)) {
            if let Ok((id, _, _)) = parse(&body) {
                let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(v.get("update_id").and_then(serde_json::Value::as_i64), Some(id));
            }
        }

        #[test]
        fn an_object_is_accepted_iff_it_has_an_integer_update_id(v in json(), id in any::<Option<i64>>()) {
            let mut obj = match v {
                serde_json::Value::Object(m) => m,
                other => [("message".to_string(), other)].into_iter().collect(),
            };
            obj.remove("update_id");
            if let Some(id) = id {
                obj.insert("update_id".into(), id.into());
            }
            let body = serde_json::to_vec(&serde_json::Value::Object(obj)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(parse(&body).ok().map(|p| p.0), id);
        }

        #[test]
        fn any_nesting_depth_with_an_id_is_accepted(depth in 0usize..2000, id in any::<i64>(), objects in any::<bool>()) {
            let (open, close) = if objects { ("{\"a\":", "}") } else { ("[", "]") };
            let body = format!("{{\"update_id\":{id},\"message\":{}0{}}}", open.repeat(depth), close.repeat(depth));
            prop_assert_eq!(parse(body.as_bytes()).ok().map(|p| p.0), Some(id));
        }

        #[test]
        fn the_classifier_takes_any_json(v in json()) {
            let _ = key::classify(&v);
        }

        #[test]
        fn the_one_pass_scan_reads_what_the_tree_classifier_reads(v in update_like()) {
            let body = serde_json::to_vec(&v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (kind, key) = key::classify(&v);
            let id = v.get("update_id").and_then(serde_json::Value::as_i64);
            match parse(&body) {
                Ok(got) => prop_assert_eq!(got, (id.unwrap_or_default(), kind, key)),
                Err(_) => prop_assert_eq!(id, None),
            }
        }

        #[test]
        fn only_one_exactly_equal_secret_header_passes(given in prop::collection::vec("[A-Za-z0-9_-]{0,12}", 0..4)) {
            let secret = "s3cret-_X";
            let mut h = HeaderMap::new();
            for g in &given {
                h.append(SECRET_HEADER, g.parse().map_err(|_| TestCaseError::reject("header"))?);
            }
            prop_assert_eq!(secret_ok(&h, secret), given.len() == 1 && given[0] == secret);
        }
    }
}
