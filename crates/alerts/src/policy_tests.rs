#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

const P: Policy = Policy {
    failure_threshold: 2,
    success_threshold: 2,
    repeat_interval: 4 * 3600,
    send_resolved: true,
    escalate_after: None,
};

fn obs(level: Level) -> Observation {
    Observation::new("bot-down", level, "bot is down")
}

/// Runs a sequence of (level, seconds since start, silenced?) and returns the decision kinds
/// and which carried a message.
fn run(seq: &[(Level, i64, bool)]) -> Vec<(DecisionKind, Option<NoticeKind>)> {
    let mut st = IncidentState::new("bot-down", 0);
    seq.iter()
        .map(|(l, t, s)| {
            let step = P.step(&mut st, &obs(*l), *t, s.then_some(t + 3600));
            (step.kind, step.notice)
        })
        .collect()
}

#[test]
fn table_of_sequences() {
    use DecisionKind as D;
    use Level::{Critical as C, Ok as N, Warning as W};
    use NoticeKind as K;
    type Case = (&'static str, Vec<(Level, i64, bool)>, Vec<(D, Option<K>)>);
    let cases: Vec<Case> = vec![
        (
            "one failure below the threshold",
            vec![(C, 0, false), (N, 30, false)],
            vec![(D::SuppressedByThreshold, None), (D::Ok, None)],
        ),
        (
            "opens at the threshold, then quiet",
            vec![(C, 0, false), (C, 30, false), (C, 60, false)],
            vec![
                (D::SuppressedByThreshold, None),
                (D::Opened, Some(K::Opened)),
                (D::Ongoing, None),
            ],
        ),
        (
            "one pass is not enough to resolve",
            vec![
                (C, 0, false),
                (C, 30, false),
                (N, 60, false),
                (C, 90, false),
                (N, 120, false),
                (N, 150, false),
            ],
            vec![
                (D::SuppressedByThreshold, None),
                (D::Opened, Some(K::Opened)),
                (D::Recovering, None),
                (D::Ongoing, None),
                (D::Recovering, None),
                (D::Resolved, Some(K::Resolved)),
            ],
        ),
        (
            "repeat after the interval",
            vec![
                (C, 0, false),
                (C, 30, false),
                (C, 30 + 4 * 3600 - 1, false),
                (C, 30 + 4 * 3600, false),
            ],
            vec![
                (D::SuppressedByThreshold, None),
                (D::Opened, Some(K::Opened)),
                (D::Ongoing, None),
                (D::Repeat, Some(K::Repeat)),
            ],
        ),
        (
            "warning escalating to critical notifies again",
            vec![
                (W, 0, false),
                (W, 30, false),
                (C, 60, false),
                (C, 90, false),
            ],
            vec![
                (D::SuppressedByThreshold, None),
                (D::Opened, Some(K::Opened)),
                (D::Notified, Some(K::Update)),
                (D::Ongoing, None),
            ],
        ),
        (
            "silenced opening is held, then sent on the next unsilenced run",
            vec![
                (C, 0, true),
                (C, 30, true),
                (C, 60, true),
                (C, 90, false),
                (C, 120, false),
            ],
            vec![
                (D::SuppressedByThreshold, None),
                (D::Silenced, None),
                (D::Silenced, None),
                (D::Notified, Some(K::Update)),
                (D::Ongoing, None),
            ],
        ),
        (
            "resolved without anyone told sends nothing",
            vec![(C, 0, true), (C, 30, true), (N, 60, false), (N, 90, false)],
            vec![
                (D::SuppressedByThreshold, None),
                (D::Silenced, None),
                (D::Recovering, None),
                (D::Resolved, None),
            ],
        ),
        (
            "resolved while silenced is not sent",
            vec![(C, 0, false), (C, 30, false), (N, 60, true), (N, 90, true)],
            vec![
                (D::SuppressedByThreshold, None),
                (D::Opened, Some(K::Opened)),
                (D::Recovering, None),
                (D::Resolved, None),
            ],
        ),
    ];
    for (name, seq, want) in cases {
        assert_eq!(run(&seq), want, "case: {name}");
    }
}

#[test]
fn resolved_message_is_about_the_notified_level_and_since_the_first_failure() {
    let mut st = IncidentState::new("k", 0);
    P.step(&mut st, &obs(Level::Critical), 100, None);
    P.step(&mut st, &obs(Level::Critical), 130, None);
    P.step(&mut st, &obs(Level::Ok), 160, None);
    let s = P.step(&mut st, &obs(Level::Ok), 190, None);
    assert_eq!(
        (s.kind, s.level, s.since),
        (DecisionKind::Resolved, Level::Critical, 100)
    );
    assert_eq!(st.phase, Phase::Ok);
    assert_eq!(st.notified_level, None);
}

#[test]
fn release_only_for_open_held_unsilenced() {
    let mut st = IncidentState::new("k", 0);
    P.step(&mut st, &obs(Level::Critical), 0, Some(100));
    P.step(&mut st, &obs(Level::Critical), 30, Some(100));
    assert!(st.held);
    assert!(P.release(&mut st, 60, Some(100)).is_none());
    let s = P.release(&mut st, 100, None).expect("released");
    assert_eq!(s.notice, Some(NoticeKind::Update));
    assert!(!st.held);
    assert!(P.release(&mut st, 130, None).is_none());
}

/// Issue 16, part 5: a critical incident open for `escalate_after` and not acknowledged is
/// escalated once (the escalation stands in for a reminder due then); its RESOLVED goes to the
/// escalation channels too. An acknowledged one gets no reminder and no escalation, and its
/// RESOLVED still goes out (to the usual channels only).
#[test]
fn escalation_and_acknowledgement() {
    use DecisionKind as D;
    let p = Policy {
        escalate_after: Some(1800),
        ..P
    };
    let c = obs(Level::Critical);
    let n = obs(Level::Ok);
    let mut st = IncidentState::new("bot-down", 0);
    let mut kinds = Vec::new();
    for (o, t) in [
        (&c, 0),
        (&c, 30),
        (&c, 1800),
        (&c, 1830),
        (&c, 1830 + 4 * 3600),
    ] {
        let s = p.step(&mut st, o, t, None);
        kinds.push((s.kind, s.escalation));
    }
    assert_eq!(
        kinds,
        vec![
            (D::SuppressedByThreshold, false),
            (D::Opened, false),
            (D::Ongoing, false),
            (D::Escalated, true),
            (D::Repeat, false),
        ]
    );
    assert_eq!(st.escalated_at, Some(1830));
    p.step(&mut st, &n, 20_000, None);
    let s = p.step(&mut st, &n, 20_030, None);
    assert_eq!(
        (s.kind, s.notice, s.escalation),
        (D::Resolved, Some(NoticeKind::Resolved), true)
    );
    assert_eq!(st.escalated_at, None, "cleared with the episode");

    // Acknowledged: no escalation, no reminder; the RESOLVED still goes out.
    let mut st = IncidentState::new("bot-down", 0);
    p.step(&mut st, &c, 0, None);
    p.step(&mut st, &c, 30, None);
    st.acked_at = Some(60);
    st.acked_by = Some("alice".into());
    for t in [1830, 5 * 3600, 9 * 3600] {
        let s = p.step(&mut st, &c, t, None);
        assert_eq!(s.kind, D::Ongoing, "at {t}: {s:?}");
        assert!(s.detail.contains("acknowledged by alice"), "{s:?}");
    }
    p.step(&mut st, &n, 40_000, None);
    let s = p.step(&mut st, &n, 40_030, None);
    assert_eq!(
        (s.kind, s.notice, s.escalation),
        (D::Resolved, Some(NoticeKind::Resolved), false)
    );
    assert_eq!(
        (st.acked_at, st.acked_by.clone()),
        (None, None),
        "cleared on resolve"
    );

    // A warning is never escalated; off by default.
    let mut st = IncidentState::new("bot-down", 0);
    let w = obs(Level::Warning);
    for t in [0, 30, 4000] {
        assert!(!p.step(&mut st, &w, t, None).escalation);
    }
    let mut st = IncidentState::new("bot-down", 0);
    for t in [0, 30, 4000] {
        assert_ne!(P.step(&mut st, &c, t, None).kind, D::Escalated);
    }
}
