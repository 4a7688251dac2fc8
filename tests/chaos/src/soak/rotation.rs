//! The soak's fault rotation: none of them restarts bot-server; each is applied for a while,
//! then healed (the webhook faults are healed by the system itself).

use std::time::Duration;

use crate::proxy::Fault;
use crate::stack::Stack;
use crate::{ChaosError, Variant};

/// The faults of the rotation, in order. None of them restarts bot-server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoakFault {
    /// Every Bot API call answers 500.
    Api500,
    /// sendMessage answers 429 with retry_after.
    Api429,
    /// Every Bot API call takes 1.5 × the request timeout.
    ApiSlow,
    /// Nothing listens where the Bot API was.
    ApiUnreachable,
    /// Someone else points the webhook elsewhere (the bot must restore it).
    WebhookUrlChanged,
    /// Someone else deletes the webhook (the bot must poll, then restore it).
    WebhookDeleted,
    /// Deliveries fail with 500, 502 and timeouts at the webhook proxy.
    DeliveryErrors,
    /// SMTP refuses connections while deliveries fail, and a while after.
    SmtpDown,
    /// kill -9 of the watchdog, started again.
    WatchdogKill,
}

/// The rotation.
pub const ROTATION: &[SoakFault] = &[
    SoakFault::Api500,
    SoakFault::Api429,
    SoakFault::ApiSlow,
    SoakFault::ApiUnreachable,
    SoakFault::WebhookUrlChanged,
    SoakFault::WebhookDeleted,
    SoakFault::DeliveryErrors,
    SoakFault::SmtpDown,
    SoakFault::WatchdogKill,
];

impl SoakFault {
    /// Its short name.
    pub fn name(self) -> &'static str {
        match self {
            SoakFault::Api500 => "api-500",
            SoakFault::Api429 => "api-429",
            SoakFault::ApiSlow => "api-slow",
            SoakFault::ApiUnreachable => "api-unreachable",
            SoakFault::WebhookUrlChanged => "webhook-url-changed",
            SoakFault::WebhookDeleted => "webhook-deleted",
            SoakFault::DeliveryErrors => "delivery-errors",
            SoakFault::SmtpDown => "smtp-down",
            SoakFault::WatchdogKill => "watchdog-kill9",
        }
    }
}

/// Applies `f` for `len`, then heals what the harness broke (the webhook faults are healed
/// by the system itself).
pub(crate) async fn apply(f: SoakFault, st: &mut Stack, len: Duration) -> Result<(), ChaosError> {
    let v = st.variant;
    match f {
        SoakFault::Api500 => timed_api(st, None, Fault::Status(500), len).await,
        SoakFault::Api429 => {
            let retry_after = if v == Variant::Short { 1 } else { 2 };
            let fault = Fault::TooMany { retry_after };
            timed_api(st, Some(&["sendMessage"][..]), fault, len).await;
        }
        SoakFault::ApiSlow => {
            let slow = Fault::Slow(v.request_timeout().mul_f64(1.5));
            timed_api(st, None, slow, len).await;
        }
        SoakFault::ApiUnreachable => timed_api(st, None, Fault::Refuse, len).await,
        SoakFault::WebhookUrlChanged => {
            st.sim
                .set_webhook_url_behind_back("http://127.0.0.1:9/someone-else");
            tokio::time::sleep(len).await;
        }
        SoakFault::WebhookDeleted => {
            st.sim.set_webhook_url_behind_back("");
            tokio::time::sleep(len).await;
        }
        SoakFault::DeliveryErrors => {
            let cycle = vec![Fault::Status(500), Fault::Status(502), Fault::Hang];
            st.hook.set(Fault::Cycle(cycle));
            tokio::time::sleep(len).await;
            st.hook.heal();
        }
        SoakFault::SmtpDown => {
            st.smtp.set_open(false);
            st.hook.set(Fault::Status(500));
            tokio::time::sleep(len).await;
            st.hook.heal();
            tokio::time::sleep(len / 2).await;
            st.smtp.set_open(true);
        }
        SoakFault::WatchdogKill => {
            st.kill_watchdog().await?;
            tokio::time::sleep(len).await;
            st.start_watchdog()?;
        }
    }
    Ok(())
}

async fn timed_api(st: &Stack, methods: Option<&[&str]>, fault: Fault, len: Duration) {
    match methods {
        Some(m) => st.api.set_for(m, fault),
        None => st.api.set(fault),
    }
    tokio::time::sleep(len).await;
    st.api.heal();
}
