//! The closing report: printed for people, and as one last machine-readable line
//! (`DEMO_REPORT {json}`) that the demo's test parses.

use serde::Serialize;

/// The prefix of the machine-readable line.
pub const REPORT_PREFIX: &str = "DEMO_REPORT ";

/// What happened during the scripted incident.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Updates the users sent (injected into telegram-sim).
    pub sent: u64,
    /// Replies the bot sent (each update gets exactly one).
    pub answered: u64,
    /// Updates lost: expired at Telegram plus thrown away by a recovery.
    pub dropped: u64,
    /// Updates sent while the webhook was failing.
    pub sent_during_incident: u64,
    /// Lossless recoveries the watchdog ran, and what they moved.
    pub recoveries: u64,
    /// Updates the watchdog took from Telegram with getUpdates.
    pub drained: u64,
    /// Of those, updates the bot acknowledged.
    pub replayed: u64,
    /// Seconds from the first failing delivery to the watchdog's deleteWebhook.
    pub detect_s: f64,
    /// Seconds from deleteWebhook to setWebhook again (drain and replay included).
    pub recover_s: f64,
    /// Seconds from the fault to the CRITICAL e-mail at the catcher.
    pub critical_email_s: f64,
    /// Seconds from the fix to every update answered.
    pub answered_after_fix_s: f64,
    /// Seconds from the fix to the RESOLVED e-mail at the catcher.
    pub resolved_email_s: f64,
    /// Subjects of every e-mail the catcher received, in order.
    pub emails: Vec<String>,
    /// How many subjects begin `[CRITICAL]`.
    pub critical_emails: u64,
    /// How many subjects begin `[RESOLVED]`.
    pub resolved_emails: u64,
    /// sent = answered, dropped 0, one CRITICAL and one RESOLVED e-mail.
    pub ok: bool,
}

impl Report {
    /// Fills the e-mail counts and `ok` from the other fields.
    pub fn finish(mut self) -> Report {
        self.critical_emails = count(&self.emails, "[CRITICAL]");
        self.resolved_emails = count(&self.emails, "[RESOLVED]");
        self.ok = self.sent > 0
            && self.sent == self.answered
            && self.dropped == 0
            && self.critical_emails == 1
            && self.resolved_emails == 1;
        self
    }

    /// The closing report for people.
    pub fn human(&self) -> String {
        let mut s = String::new();
        let mut line = |t: String| {
            s.push_str(&t);
            s.push('\n');
        };
        line("──────────────── closing report ────────────────".into());
        line(format!(
            "updates sent      {:>6}   ({} while the webhook was failing)",
            self.sent, self.sent_during_incident
        ));
        line(format!("updates answered  {:>6}", self.answered));
        line(format!("updates dropped   {:>6}", self.dropped));
        line(format!(
            "recoveries        {:>6}   (drained {}, replayed {}, dropped 0)",
            self.recoveries, self.drained, self.replayed
        ));
        line(format!(
            "detection         {:>6.2} s (first 500 → watchdog's deleteWebhook)",
            self.detect_s
        ));
        line(format!(
            "recovery          {:>6.2} s (deleteWebhook → drain → replay → setWebhook)",
            self.recover_s
        ));
        line(format!(
            "CRITICAL e-mail   {:>6.1} s after the fault",
            self.critical_email_s
        ));
        line(format!(
            "all answered      {:>6.1} s after the fix; RESOLVED e-mail {:.1} s after it",
            self.answered_after_fix_s, self.resolved_email_s
        ));
        line(format!(
            "e-mails received  {:>6}   ({} CRITICAL, {} RESOLVED)",
            self.emails.len(),
            self.critical_emails,
            self.resolved_emails
        ));
        line(format!(
            "result            {}",
            if self.ok {
                "OK: every update answered, none lost, one CRITICAL and one RESOLVED e-mail"
            } else {
                "NOT OK (see above)"
            }
        ));
        s
    }

    /// `DEMO_REPORT {json}`.
    pub fn machine_line(&self) -> String {
        format!(
            "{REPORT_PREFIX}{}",
            serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
        )
    }
}

fn count(subjects: &[String], tag: &str) -> u64 {
    subjects.iter().filter(|s| s.starts_with(tag)).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_needs_every_condition() {
        let good = Report {
            sent: 10,
            answered: 10,
            emails: vec!["[CRITICAL] a".into(), "[RESOLVED] a".into()],
            ..Report::default()
        };
        assert!(good.clone().finish().ok);
        let cases = [
            Report {
                answered: 9,
                ..good.clone()
            },
            Report {
                dropped: 1,
                ..good.clone()
            },
            Report {
                emails: vec!["[CRITICAL] a".into()],
                ..good.clone()
            },
            Report {
                emails: vec![
                    "[CRITICAL] a".into(),
                    "[CRITICAL] b".into(),
                    "[RESOLVED] a".into(),
                ],
                ..good.clone()
            },
        ];
        for (i, r) in cases.into_iter().enumerate() {
            assert!(!r.finish().ok, "case {i}");
        }
    }

    #[test]
    fn the_machine_line_is_one_json_document() {
        let line = Report::default().finish().machine_line();
        let json = line
            .strip_prefix(REPORT_PREFIX)
            .map(serde_json::from_str::<serde_json::Value>);
        assert!(matches!(json, Some(Ok(v)) if v["ok"] == false));
    }
}
