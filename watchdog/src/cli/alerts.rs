//! The commands that change only alerting: `silence`, `unsilence`, `ack`, `test-alert`, and
//! `digest` and `report --week`, which change nothing.

use std::time::Duration;

use telbot_alerts::AlertError;

use super::EXIT_UNAVAILABLE;
use crate::alerting::PipelineSink;
use crate::watchdog::Watchdog;

/// `watchdog digest [--no-send] [--json]`.
pub(super) async fn digest(wd: &Watchdog, send: bool, json: bool) -> u8 {
    let out = match wd.digest(send).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("watchdog: cannot read the store: {e}");
            return EXIT_UNAVAILABLE;
        }
    };
    if json {
        println!("{}", serde_json::to_string(&out.digest).unwrap_or_default());
    } else {
        println!("{}\n\n{}", out.message.subject, out.message.text);
    }
    sent(send, &out.channels)
}

/// `watchdog report --week [--no-send] [--json]`.
pub(super) async fn weekly(wd: &Watchdog, send: bool, json: bool) -> u8 {
    let out = match wd.weekly(send).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("watchdog: cannot read the store: {e}");
            return EXIT_UNAVAILABLE;
        }
    };
    if json {
        println!("{}", serde_json::to_string(&out.weekly).unwrap_or_default());
    } else {
        println!("{}\n\n{}", out.message.subject, out.message.text);
    }
    sent(send, &out.channels)
}

/// The exit code of a report that was (or, without `send`, was not) e-mailed.
fn sent(send: bool, channels: &[telbot_alerts::ChannelResult]) -> u8 {
    if !send {
        return 0;
    }
    if channels.is_empty() {
        eprintln!(
            "watchdog: no e-mail channel is configured (SMTP_URL or RESEND_API_KEY, and ALERT_EMAIL_TO); printed only"
        );
        return 2;
    }
    for c in channels {
        match &c.error {
            None => eprintln!("{}: sent", c.channel),
            Some(e) => eprintln!("{}: FAILED: {e}", c.channel),
        }
    }
    if channels.iter().all(|c| c.ok) { 0 } else { 2 }
}

/// `watchdog silence <incident|all> --for D [--reason …]`.
pub(super) async fn silence(sink: &PipelineSink, target: &str, d: Duration, reason: &str) -> u8 {
    let now = telbot_shared::unix_now();
    match sink.pipeline().silence(target, d, reason, now).await {
        Ok(_) => {
            println!("silenced {target} for {}", humantime::format_duration(d));
            0
        }
        Err(e) => {
            eprintln!("watchdog: {e}");
            EXIT_UNAVAILABLE
        }
    }
}

/// `watchdog unsilence <incident|all>`.
pub(super) async fn unsilence(sink: &PipelineSink, target: &str) -> u8 {
    match sink
        .pipeline()
        .unsilence(target, telbot_shared::unix_now())
        .await
    {
        Ok(n) => {
            println!("ended {n} silence(s) on {target}");
            0
        }
        Err(e) => {
            eprintln!("watchdog: {e}");
            EXIT_UNAVAILABLE
        }
    }
}

/// `watchdog ack INCIDENT [--bot NAME] [--by NAME]` (the bot is chosen before).
pub(super) async fn ack(sink: &PipelineSink, bot_name: &str, incident: &str, by: &str) -> u8 {
    match sink
        .pipeline()
        .ack(incident, by, telbot_shared::unix_now())
        .await
    {
        Ok(s) => {
            let at = s
                .acked_at
                .map(telbot_alerts::format_time)
                .unwrap_or_default();
            println!(
                "acknowledged {} on {bot_name} (by {} at {at}): no reminders or escalation until it resolves",
                s.key,
                s.acked_by.as_deref().unwrap_or("unknown"),
            );
            0
        }
        Err(AlertError::Invalid(why)) => {
            eprintln!("watchdog: {why}");
            1
        }
        Err(e) => {
            eprintln!("watchdog: {e}");
            EXIT_UNAVAILABLE
        }
    }
}

/// `watchdog test-alert`.
pub(super) async fn test_alert(sink: &PipelineSink) -> u8 {
    let results = sink.pipeline().test_alert(telbot_shared::unix_now()).await;
    if results.is_empty() {
        println!(
            "no alert channel is configured (set SMTP_URL and ALERT_EMAIL_TO, or a chat webhook)"
        );
        return 2;
    }
    for r in &results {
        match &r.error {
            None => println!("{}: ok", r.channel),
            Some(e) => println!("{}: FAILED: {e}", r.channel),
        }
    }
    if results.iter().all(|r| r.ok) { 0 } else { 2 }
}
