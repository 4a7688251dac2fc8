//! The scripted incident, in four acts:
//!
//! 1. **Normal traffic**: users send `/start` and a few messages; each gets one answer.
//! 2. **The fault**: webhook deliveries start failing with `500 Internal Server Error` (as if a
//!    proxy in front of the bot broke) while users keep writing; updates pile up at Telegram.
//!    The watchdog sees it, runs a lossless recovery (deleteWebhook keeping updates →
//!    getUpdates → each update replayed to the bot → setWebhook), so those users get their
//!    answers. The fault is still there, so updates pile up again: the incident stays
//!    critical and the on-call engineer gets one `[CRITICAL]` e-mail.
//! 3. **The fix**: the engineer repairs the proxy (the demo heals the fault); Telegram
//!    delivers what is pending; the watchdog sees two good runs and sends `[RESOLVED]`.
//! 4. **The report**: sent, answered, dropped, detection and recovery times, the e-mails.

use std::time::{Duration, Instant, SystemTime};

use telegram_sim::{Upd, WebhookFault};

use crate::report::Report;
use crate::stack::Stack;

/// Users in the demo (chat ids).
const USERS: [i64; 6] = [1001, 1002, 1003, 1004, 1005, 1006];
/// Pause between two messages while the fault lasts (about 8 per second).
const TRICKLE: Duration = Duration::from_millis(125);
/// The fault lasts at most this long if no CRITICAL e-mail arrives.
const FAULT_LIMIT: Duration = Duration::from_secs(40);
/// Waiting for answers or an e-mail gives up after this long.
const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// Prints a line with the seconds since the demo started.
#[derive(Debug, Clone, Copy)]
pub struct Narrator {
    start: Instant,
}

impl Narrator {
    /// Starts the clock.
    pub fn new() -> Self {
        Narrator {
            start: Instant::now(),
        }
    }

    /// `[  3.2s] text`.
    pub fn say(&self, text: impl AsRef<str>) {
        println!(
            "[{:>5.1}s] {}",
            self.start.elapsed().as_secs_f64(),
            text.as_ref()
        );
    }
}

impl Default for Narrator {
    fn default() -> Self {
        Self::new()
    }
}

struct Traffic {
    sent: u64,
    next: usize,
}

impl Traffic {
    fn send(&mut self, stack: &Stack, text: String) {
        let chat = USERS[self.next % USERS.len()];
        self.next += 1;
        if text.starts_with('/') {
            stack.sim.inject(Upd::command(chat, text));
        } else {
            stack.sim.inject(Upd::text(chat, text));
        }
        self.sent += 1;
    }
}

fn answered(stack: &Stack) -> u64 {
    stack.sim.sent_messages().len() as u64
}

fn subjects(stack: &Stack) -> Vec<String> {
    stack
        .catcher
        .mails()
        .into_iter()
        .map(|m| m.subject)
        .collect()
}

/// Polls `f` every 50 ms for at most `limit`; true when it held.
async fn wait_until(limit: Duration, f: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    b.duration_since(a).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Plays the incident against a running stack and returns the closing report.
pub async fn play(stack: &Stack, say: Narrator) -> anyhow::Result<Report> {
    let mut traffic = Traffic { sent: 0, next: 0 };

    // Act 1.
    say.say(format!("act 1: {} users say hello", USERS.len()));
    for _ in USERS {
        traffic.send(stack, "/start".into());
    }
    for i in 0..USERS.len() {
        traffic.send(stack, format!("hello, this is message {i}"));
    }
    let sent = traffic.sent;
    anyhow::ensure!(
        wait_until(WAIT_LIMIT, || answered(stack) >= sent).await,
        "the bot answered {} of {sent} messages in normal operation",
        answered(stack)
    );
    say.say(format!(
        "        {sent} messages sent, {} answered",
        answered(stack)
    ));

    // Act 2.
    let fault_at = SystemTime::now();
    let fault_clock = Instant::now();
    stack.sim.break_webhook(WebhookFault::Status(500));
    say.say(
        "act 2: webhook deliveries now fail with 500 Internal Server Error; users keep writing",
    );
    let before_fault = traffic.sent;
    let mut told_recovery = 0usize;
    let mut last_status = Instant::now();
    let critical_after = loop {
        traffic.send(stack, format!("are you there? ({})", traffic.sent));
        tokio::time::sleep(TRICKLE).await;
        let tl = stack.timeline();
        for r in tl.recoveries.iter().skip(told_recovery) {
            say.say(format!(
                "        watchdog: lossless recovery {}: drained {}, replayed {}, dropped {}",
                r.result, r.drained, r.replayed, r.dropped
            ));
        }
        told_recovery = tl.recoveries.len();
        if let Some(s) = subjects(stack)
            .into_iter()
            .find(|s| s.starts_with("[CRITICAL]"))
        {
            say.say(format!("        mail catcher: {s}"));
            break fault_clock.elapsed();
        }
        if last_status.elapsed() >= Duration::from_secs(1) {
            last_status = Instant::now();
            say.say(format!(
                "        pending at Telegram: {}, answered so far: {}/{}",
                stack.sim.pending_update_count(),
                answered(stack),
                traffic.sent
            ));
        }
        anyhow::ensure!(
            fault_clock.elapsed() < FAULT_LIMIT,
            "no CRITICAL e-mail within {FAULT_LIMIT:?} of the fault (e-mails: {:?})",
            subjects(stack)
        );
    };
    let sent_during_incident = traffic.sent - before_fault;

    // Act 3.
    let fix_clock = Instant::now();
    stack.sim.heal_webhook();
    say.say("act 3: the on-call engineer fixes the proxy; deliveries go through again");
    let sent = traffic.sent;
    anyhow::ensure!(
        wait_until(WAIT_LIMIT, || answered(stack) >= sent
            && stack.sim.pending_update_count() == 0)
        .await,
        "after the fix the bot answered {} of {sent} ({} still pending)",
        answered(stack),
        stack.sim.pending_update_count()
    );
    let answered_after_fix = fix_clock.elapsed();
    say.say(format!("        all {sent} messages answered"));
    anyhow::ensure!(
        wait_until(WAIT_LIMIT, || subjects(stack)
            .iter()
            .any(|s| s.starts_with("[RESOLVED]")))
        .await,
        "no RESOLVED e-mail within {WAIT_LIMIT:?} of the fix (e-mails: {:?})",
        subjects(stack)
    );
    let resolved_after = fix_clock.elapsed();
    if let Some(s) = subjects(stack)
        .into_iter()
        .find(|s| s.starts_with("[RESOLVED]"))
    {
        say.say(format!("        mail catcher: {s}"));
    }
    // Let a straggler e-mail (there should be none) show up before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Act 4.
    let calls = stack.sim.calls();
    let delete = calls
        .iter()
        .find(|c| c.method == "deleteWebhook" && c.at >= fault_at);
    let set_again = delete.and_then(|d| {
        calls
            .iter()
            .find(|c| c.method == "setWebhook" && c.at >= d.at)
    });
    let tl = stack.timeline();
    let done: Vec<_> = tl
        .recoveries
        .iter()
        .filter(|r| r.result == "succeeded")
        .collect();
    let report = Report {
        sent: traffic.sent,
        answered: answered(stack),
        dropped: stack.sim.dropped_updates().len() as u64
            + tl.recoveries.iter().map(|r| r.dropped).sum::<u64>(),
        sent_during_incident,
        recoveries: done.len() as u64,
        drained: done.iter().map(|r| r.drained).sum(),
        replayed: done.iter().map(|r| r.replayed).sum(),
        detect_s: delete.map(|d| secs_between(fault_at, d.at)).unwrap_or(-1.0),
        recover_s: match (delete, set_again) {
            (Some(d), Some(s)) => secs_between(d.at, s.at),
            _ => -1.0,
        },
        critical_email_s: critical_after.as_secs_f64(),
        answered_after_fix_s: answered_after_fix.as_secs_f64(),
        resolved_email_s: resolved_after.as_secs_f64(),
        emails: subjects(stack),
        ..Report::default()
    };
    Ok(report.finish())
}
