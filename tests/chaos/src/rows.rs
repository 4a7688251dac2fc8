//! The rows: one fault each, what it is, and whether it is critical — an outage the watchdog
//! must page for (exactly one CRITICAL and one RESOLVED e-mail), or one the system absorbs or
//! repairs within one watchdog pass (no e-mail).
//!
//! Both daemons reach the Bot API through the same proxy (a Telegram outage is one for both);
//! 429s are flood control on sending, so the storm hits `sendMessage` only.

use crate::stack::{StackOpts, StoreKind};

/// What a row does to the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Every Bot API call answers 500.
    Api500,
    /// sendMessage answers 429 with retry_after.
    Api429,
    /// Nothing listens where the Bot API was.
    ApiUnreachable,
    /// Every Bot API call takes longer than the request timeout.
    ApiSlow,
    /// Someone else points the webhook elsewhere.
    WebhookUrlChanged,
    /// Someone else deletes the webhook.
    WebhookDeleted,
    /// Deliveries fail with 500, 502 and timeouts at the webhook proxy.
    DeliveryErrors,
    /// kill -9 of bot-server; the platform starts it again after the outage.
    Kill9,
    /// SIGTERM of bot-server (a deploy); started again at once.
    Sigterm,
    /// PostgreSQL stopped, then started again.
    PostgresDown,
    /// The SQLite volume full, then freed.
    SqliteFull,
    /// SMTP refuses connections until the incident (webhook deliveries failing) is over.
    SmtpDown,
    /// kill -9 of the watchdog while its recovery is in this phase; restarted.
    WatchdogKill(&'static str),
    /// The dashboard's recovery and the watchdog's at the same moment.
    ConcurrentRecovery,
    /// One chat sends a flood while the others talk.
    Flood,
    /// Another process with the bot's token deletes the webhook and polls, again and again.
    TokenConflict,
    /// bot-server restarted (a deploy) while the watchdog's recovery drains.
    BotRestartDraining,
    /// The watchdog's own network is cut (its Bot API and `/health` calls hang); the bot and
    /// Telegram are fine.
    WatchdogBlind,
    /// The primary's public front answers 502 while its process is up; a backup deployment
    /// on the same store is healthy, and the watchdog's `BOT_URL` is `PUBLIC_URL`.
    FrontDown,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// Short name (`--rows`, test names).
    pub name: &'static str,
    /// The fault, as the table shows it.
    pub title: &'static str,
    /// What is injected.
    pub fault: FaultKind,
    /// Whether the watchdog must page.
    pub critical: bool,
    /// Whether duplicate answers within the kill -9 window are allowed.
    pub kill9_window: bool,
    /// The store the row runs on.
    pub store: StoreKind,
    /// The bot polls (getUpdates hands it 100 updates at a time) instead of the webhook.
    pub polling: bool,
    /// The bot answers deliveries with its reply (`webhook.reply_in_answer`): a reply the
    /// watchdog's drain ran must not come back with a redelivery.
    pub reply_in_answer: bool,
}

impl Row {
    /// How its stack is set up.
    pub fn opts(&self) -> StackOpts {
        StackOpts {
            store: self.store,
            smtp_open: self.fault != FaultKind::SmtpDown,
            polling: self.polling,
            watchdog_net: self.fault == FaultKind::WatchdogBlind,
            backup: self.fault == FaultKind::FrontDown,
            reply_in_answer: self.reply_in_answer,
        }
    }
}

const fn row(name: &'static str, title: &'static str, fault: FaultKind, critical: bool) -> Row {
    Row {
        name,
        title,
        fault,
        critical,
        kill9_window: false,
        store: StoreKind::Sqlite,
        polling: false,
        reply_in_answer: false,
    }
}

/// Every row, in table order.
pub const ROWS: &[Row] = &[
    row(
        "api-500",
        "Bot API answers 500 for 30 s",
        FaultKind::Api500,
        true,
    ),
    row(
        "api-429",
        "429 storm with retry_after (sendMessage, 30 s)",
        FaultKind::Api429,
        false,
    ),
    // Cutting the network also cuts sendMessage calls Telegram already executed: their answer
    // is lost, the call counts as failed and is retried — a reply seen twice, at most one per
    // call in flight (≤ inbox.workers), the same at-least-once window as a kill -9.
    Row {
        kill9_window: true,
        ..row(
            "api-unreachable",
            "Bot API unreachable for 60 s",
            FaultKind::ApiUnreachable,
            true,
        )
    },
    row(
        "api-slow",
        "Bot API slow (each call 15 s, timeout 10 s)",
        FaultKind::ApiSlow,
        true,
    ),
    row(
        "webhook-url-changed",
        "webhook URL changed by someone else",
        FaultKind::WebhookUrlChanged,
        false,
    ),
    row(
        "webhook-deleted",
        "webhook deleted by someone else (webhook mode)",
        FaultKind::WebhookDeleted,
        false,
    ),
    row(
        "delivery-errors",
        "deliveries fail: 500 / 502 / timeouts for 30 s",
        FaultKind::DeliveryErrors,
        true,
    ),
    Row {
        kill9_window: true,
        ..row(
            "kill9",
            "kill -9 of bot-server under load, down 30 s",
            FaultKind::Kill9,
            true,
        )
    },
    row(
        "sigterm",
        "SIGTERM of bot-server under load, restarted",
        FaultKind::Sigterm,
        false,
    ),
    Row {
        store: StoreKind::Postgres,
        ..row(
            "postgres-down",
            "PostgreSQL stopped for 30 s",
            FaultKind::PostgresDown,
            true,
        )
    },
    Row {
        store: StoreKind::SqliteTmpfs,
        ..row(
            "sqlite-full",
            "SQLite volume (16 MB tmpfs) full for 20 s",
            FaultKind::SqliteFull,
            true,
        )
    },
    row(
        "smtp-down",
        "SMTP down for the whole incident (deliveries 500, 30 s)",
        FaultKind::SmtpDown,
        true,
    ),
    row(
        "wd-kill-deleting",
        "watchdog kill -9 in recovery phase deleting",
        FaultKind::WatchdogKill("deleting"),
        false,
    ),
    row(
        "wd-kill-draining",
        "watchdog kill -9 in recovery phase draining",
        FaultKind::WatchdogKill("draining"),
        false,
    ),
    Row {
        reply_in_answer: true,
        ..row(
            "wd-kill-draining-reply",
            "watchdog kill -9 while draining, replies in the webhook answer",
            FaultKind::WatchdogKill("draining"),
            false,
        )
    },
    row(
        "bot-restart-draining",
        "bot-server restarted (SIGTERM, a deploy) while the watchdog drains",
        FaultKind::BotRestartDraining,
        false,
    ),
    row(
        "wd-kill-setting",
        "watchdog kill -9 in recovery phase setting",
        FaultKind::WatchdogKill("setting"),
        false,
    ),
    row(
        "concurrent-recovery",
        "dashboard + watchdog recovery at the same moment",
        FaultKind::ConcurrentRecovery,
        false,
    ),
    Row {
        polling: true,
        ..row(
            "flood",
            "one chat sends 3,000 updates while 100 chats talk",
            FaultKind::Flood,
            false,
        )
    },
    row(
        "token-conflict",
        "another process with the token deletes the webhook and polls (40 s)",
        FaultKind::TokenConflict,
        true,
    ),
    row(
        "watchdog-blind",
        "the watchdog's own network cut (Bot API and /health hang, 40 s)",
        FaultKind::WatchdogBlind,
        false,
    ),
    Row {
        store: StoreKind::Postgres,
        ..row(
            "front-down-failover",
            "the primary's front down (502, 30 s), BOT_URL = PUBLIC_URL, a backup up",
            FaultKind::FrontDown,
            true,
        )
    },
];

/// The row named `name`.
pub fn by_name(name: &str) -> Option<&'static Row> {
    ROWS.iter().find(|r| r.name == name)
}
