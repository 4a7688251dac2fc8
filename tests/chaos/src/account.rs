//! A row's accounting, from the sim's records and the load's ledger, and its pass criteria.
//!
//! - sent: updates the load injected;
//! - acknowledged: the sim no longer holds them (a 2xx delivery or a confirming getUpdates
//!   offset) and did not drop them as expired, or a duplicate POST got 200;
//! - answered: a `pong <chat>-<n>` reached sendMessage;
//! - lost: acknowledged but never answered;
//! - answered twice: updates with more than one pong;
//! - order violations: in a chat's first pongs, an `n` smaller than one already answered.

use std::collections::{HashMap, HashSet};

use mail_sim::Mail;
use telegram_sim::Sim;

use crate::load::Ledger;

/// The figures of one row (one table line).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Updates sent.
    pub sent: usize,
    /// Updates acknowledged.
    pub acked: usize,
    /// Updates answered at least once.
    pub answered: usize,
    /// Acknowledged, never answered.
    pub lost: usize,
    /// Answered more than once.
    pub twice: usize,
    /// Per-chat order violations.
    pub order_violations: usize,
    /// `[CRITICAL]` e-mails received.
    pub critical: usize,
    /// `[RESOLVED]` e-mails received.
    pub resolved: usize,
    /// Seconds from the end of the fault until healthy; `None`: not within the bound.
    pub healthy_after: Option<f64>,
}

/// The pongs the sim saw: how often each (chat, n) was answered, and the order violations.
pub fn answers(sim: &Sim) -> (HashMap<(i64, u64), usize>, usize) {
    answers_skipping(sim, &HashSet::new())
}

/// [`answers`], with the pongs of `skip` left out of the order (updates another process held
/// at Telegram: their late delivery is not telbot's reordering).
pub fn answers_skipping(
    sim: &Sim,
    skip: &HashSet<(i64, u64)>,
) -> (HashMap<(i64, u64), usize>, usize) {
    let mut count: HashMap<(i64, u64), usize> = HashMap::new();
    let mut highest: HashMap<i64, u64> = HashMap::new();
    let mut violations = 0;
    for m in sim.sent_messages() {
        let Some(key) = parse_pong(&m.text) else {
            continue;
        };
        let c = count.entry(key).or_insert(0);
        *c += 1;
        if *c > 1 || skip.contains(&key) {
            continue;
        }
        let h = highest.entry(key.0).or_insert(key.1);
        if key.1 < *h {
            violations += 1;
        } else {
            *h = key.1;
        }
    }
    (count, violations)
}

/// `pong <chat>-<n>` → (chat, n).
pub fn parse_pong(text: &str) -> Option<(i64, u64)> {
    let rest = text.strip_prefix("pong ")?;
    let (chat, n) = rest.rsplit_once('-')?;
    Some((chat.parse().ok()?, n.parse().ok()?))
}

/// Whether every update of the ledger has been answered.
pub fn all_answered(ledger: &Ledger, sim: &Sim) -> bool {
    let (count, _) = answers(sim);
    ledger
        .sent
        .iter()
        .all(|s| count.contains_key(&(s.chat, s.n)))
}

/// The update and order figures (e-mails and healing are filled in by the runner).
pub fn tally(ledger: &Ledger, sim: &Sim) -> Tally {
    tally_skipping(ledger, sim, &HashSet::new())
}

/// [`tally`] with `skip` left out of the order figures (see [`answers_skipping`]).
pub fn tally_skipping(ledger: &Ledger, sim: &Sim, skip: &HashSet<(i64, u64)>) -> Tally {
    let pending: HashSet<i64> = sim.pending_update_ids().into_iter().collect();
    let dropped: HashSet<i64> = sim.dropped_updates().into_iter().collect();
    let (count, order_violations) = answers_skipping(sim, skip);
    let mut t = Tally {
        sent: ledger.sent.len(),
        order_violations,
        ..Tally::default()
    };
    for s in &ledger.sent {
        let acked = (!pending.contains(&s.update_id) && !dropped.contains(&s.update_id))
            || ledger.dup_acked.contains(&s.update_id);
        let n = count.get(&(s.chat, s.n)).copied().unwrap_or(0);
        t.acked += usize::from(acked);
        t.answered += usize::from(n > 0);
        t.lost += usize::from(acked && n == 0);
        t.twice += usize::from(n > 1);
    }
    t
}

/// `[CRITICAL]` and `[RESOLVED]` e-mails among `mails`.
pub fn count_mails(mails: &[Mail]) -> (usize, usize) {
    let crit = mails
        .iter()
        .filter(|m| m.subject.starts_with("[CRITICAL]"))
        .count();
    let res = mails
        .iter()
        .filter(|m| m.subject.starts_with("[RESOLVED]"))
        .count();
    (crit, res)
}

/// What a row must show.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    /// An outage the watchdog must page for: exactly one CRITICAL and one RESOLVED e-mail;
    /// otherwise none.
    pub critical: bool,
    /// Updates allowed to be answered twice (the kill -9 window: inbox.workers; else 0).
    pub twice_allowed: usize,
}

/// The failed criteria of a row (empty: it passed).
pub fn judge(t: &Tally, e: &Expect, bound_s: f64) -> Vec<String> {
    let mut f = Vec::new();
    if t.lost > 0 {
        f.push(format!(
            "{} acknowledged updates were never answered",
            t.lost
        ));
    }
    if t.twice > e.twice_allowed {
        f.push(format!(
            "{} updates answered twice (allowed {})",
            t.twice, e.twice_allowed
        ));
    }
    if t.order_violations > 0 {
        f.push(format!("{} per-chat order violations", t.order_violations));
    }
    let (want_c, want_r) = if e.critical { (1, 1) } else { (0, 0) };
    if t.critical != want_c || t.resolved != want_r {
        f.push(format!(
            "e-mails: {} CRITICAL / {} RESOLVED, expected {want_c} / {want_r}",
            t.critical, t.resolved
        ));
    }
    match t.healthy_after {
        None => f.push(format!(
            "not healthy again within {bound_s:.0} s of the fault's end"
        )),
        Some(s) if s > bound_s => f.push(format!(
            "healthy only after {s:.1} s (bound {bound_s:.0} s)"
        )),
        Some(_) => {}
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pong_texts_parse_with_negative_chats() {
        assert_eq!(parse_pong("pong 10001-7"), Some((10001, 7)));
        assert_eq!(parse_pong("pong -100123-0"), Some((-100123, 0)));
        assert_eq!(parse_pong("Hello"), None);
        assert_eq!(parse_pong("pong x-1"), None);
    }

    #[test]
    fn every_criterion_fails_on_its_own() {
        let ok = Tally {
            healthy_after: Some(1.0),
            ..Tally::default()
        };
        let none = Expect {
            critical: false,
            twice_allowed: 0,
        };
        assert!(judge(&ok, &none, 10.0).is_empty());
        let cases = [
            Tally {
                lost: 1,
                ..ok.clone()
            },
            Tally {
                twice: 1,
                ..ok.clone()
            },
            Tally {
                order_violations: 1,
                ..ok.clone()
            },
            Tally {
                critical: 1,
                resolved: 1,
                ..ok.clone()
            },
            Tally {
                healthy_after: None,
                ..ok.clone()
            },
            Tally {
                healthy_after: Some(11.0),
                ..ok.clone()
            },
        ];
        for (i, t) in cases.iter().enumerate() {
            assert_eq!(judge(t, &none, 10.0).len(), 1, "case {i}");
        }
        let crit = Expect {
            critical: true,
            twice_allowed: 32,
        };
        assert_eq!(
            judge(&ok, &crit, 10.0).len(),
            1,
            "a critical row needs its e-mails"
        );
        let paged = Tally {
            critical: 1,
            resolved: 1,
            twice: 32,
            ..ok.clone()
        };
        assert!(judge(&paged, &crit, 10.0).is_empty());
        let twice_paged = Tally {
            critical: 2,
            resolved: 1,
            ..ok
        };
        assert_eq!(judge(&twice_paged, &crit, 10.0).len(), 1);
    }
}
