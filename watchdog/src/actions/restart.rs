//! The restart action: Render's API (`POST /v1/services/{id}/restart`), a deploy-hook URL, or a
//! shell command — whichever is configured. Keys and hook URLs never reach a log or a report.

use secrecy::ExposeSecret;
use telbot_shared::action::ActionDetail;

use crate::report::ActionResult;

use crate::checks::bot::describe;
use crate::config::RestartMethod;
use crate::context::Ctx;

/// Restarts the bot; `(ActionResult::Succeeded, detail)` when the platform accepted the request.
pub(crate) async fn restart(ctx: &Ctx, method: &RestartMethod) -> (ActionResult, ActionDetail) {
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
            http_result(
                "render",
                sent,
                ActionDetail {
                    service_id: Some(service_id.clone()),
                    ..Default::default()
                },
            )
        }
        RestartMethod::DeployHook(url) => {
            let sent = ctx
                .http
                .post(url.expose_secret())
                .timeout(timeout)
                .send()
                .await;
            http_result("deploy-hook", sent, ActionDetail::default())
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
                Ok(Ok(s)) if s.success() => (ActionResult::Succeeded, command(None)),
                Ok(Ok(s)) => (
                    ActionResult::Failed,
                    command(Some(format!("the command exited with {s}"))),
                ),
                Ok(Err(e)) => (
                    ActionResult::Failed,
                    command(Some(format!("cannot run sh: {e}"))),
                ),
                Err(_) => (
                    ActionResult::Failed,
                    command(Some(format!("the command took longer than {timeout:?}"))),
                ),
            }
        }
    }
}

/// The detail of a restart by command.
fn command(error: Option<String>) -> ActionDetail {
    ActionDetail {
        method: Some("command".into()),
        error,
        ..Default::default()
    }
}

fn http_result(
    method: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
    mut detail: ActionDetail,
) -> (ActionResult, ActionDetail) {
    detail.method = Some(method.into());
    match sent {
        Ok(r) if r.status().is_success() => {
            detail.status = Some(r.status().as_u16());
            (ActionResult::Succeeded, detail)
        }
        Ok(r) => {
            detail.status = Some(r.status().as_u16());
            detail.error = Some(format!("{method} answered {}", r.status().as_u16()));
            (ActionResult::Failed, detail)
        }
        Err(e) => {
            detail.error = Some(format!("{method}: {}", describe(&e)));
            (ActionResult::Failed, detail)
        }
    }
}
