//! The restart action: Render's API (`POST /v1/services/{id}/restart`), a deploy-hook URL, or a
//! shell command — whichever is configured. Keys and hook URLs never reach a log or a report.

use secrecy::ExposeSecret;
use serde_json::json;

use crate::checks::Ctx;
use crate::checks::bot::describe;
use crate::config::RestartMethod;

/// Restarts the bot; `Ok(detail)` when the platform accepted the request.
pub async fn restart(
    ctx: &Ctx,
    method: &RestartMethod,
) -> Result<serde_json::Value, serde_json::Value> {
    let timeout = ctx.cfg.restart.timeout;
    match method {
        RestartMethod::Render {
            api_url,
            api_key,
            service_id,
        } => {
            let url = format!(
                "{}/v1/services/{}/restart",
                api_url.as_str().trim_end_matches('/'),
                service_id
            );
            let sent = ctx
                .http
                .post(&url)
                .bearer_auth(api_key.expose_secret())
                .header("accept", "application/json")
                .timeout(timeout)
                .send()
                .await;
            http_result("render", sent, json!({ "service_id": service_id }))
        }
        RestartMethod::DeployHook(url) => {
            let sent = ctx
                .http
                .post(url.expose_secret())
                .timeout(timeout)
                .send()
                .await;
            http_result("deploy-hook", sent, json!({}))
        }
        RestartMethod::Command(cmd) => {
            let child = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .status();
            match tokio::time::timeout(timeout, child).await {
                Ok(Ok(s)) if s.success() => Ok(json!({ "method": "command" })),
                Ok(Ok(s)) => Err(
                    json!({ "method": "command", "error": format!("the command exited with {s}") }),
                ),
                Ok(Err(e)) => {
                    Err(json!({ "method": "command", "error": format!("cannot run sh: {e}") }))
                }
                Err(_) => Err(
                    json!({ "method": "command", "error": format!("the command took longer than {timeout:?}") }),
                ),
            }
        }
    }
}

fn http_result(
    method: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
    mut detail: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    detail["method"] = json!(method);
    match sent {
        Ok(r) if r.status().is_success() => {
            detail["status"] = json!(r.status().as_u16());
            Ok(detail)
        }
        Ok(r) => {
            detail["status"] = json!(r.status().as_u16());
            detail["error"] = json!(format!("{method} answered {}", r.status().as_u16()));
            Err(detail)
        }
        Err(e) => {
            detail["error"] = json!(format!("{method}: {}", describe(&e)));
            Err(detail)
        }
    }
}
