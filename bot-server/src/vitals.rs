//! [`Vitals`]: the bot's live health as a program reads it, injected into every handler
//! tree as a dependency (`vitals: bot_server::Vitals`), so a program can answer an admin
//! command (the reference bot's `/status`) without the core knowing about the command.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use telbot_shared::health::UpdateStats;

use crate::config::Mode;
use crate::inbox::Counters;
use crate::monitor::Figures;
use crate::state::LiveMode;

/// A handle on the figures `/health` reads: cheap to clone, every read lock-free.
#[derive(Clone)]
pub struct Vitals {
    pub(crate) mode: Arc<LiveMode>,
    pub(crate) store_up: Arc<AtomicBool>,
    pub(crate) figures: Arc<Figures>,
    pub(crate) counters: Arc<Counters>,
}

impl std::fmt::Debug for Vitals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.status_line())
    }
}

impl Vitals {
    /// Fresh figures for an app being assembled (shared with its state from then on).
    pub(crate) fn new(counters: Arc<Counters>) -> Self {
        Vitals {
            mode: Arc::new(LiveMode::default()),
            store_up: Arc::new(AtomicBool::new(true)),
            figures: Arc::new(Figures::default()),
            counters,
        }
    }

    /// The mode live now (polling after a webhook fallback).
    pub fn mode(&self) -> Mode {
        self.mode.get()
    }

    /// Whether the store answered its last check and took the last write.
    pub fn store_up(&self) -> bool {
        self.store_up.load(Ordering::Relaxed)
    }

    /// `/health`'s `updates`.
    pub fn updates(&self) -> UpdateStats {
        self.counters.snapshot()
    }

    /// The process's resident memory, bytes (sampled every `limits.sample_interval`).
    pub fn rss_bytes(&self) -> u64 {
        self.figures.rss_bytes.load(Ordering::Relaxed)
    }

    /// One line for a person: `mode webhook, store up, received 3, processed 2, failed 0,
    /// inbox 1, RSS 12 MB`.
    pub fn status_line(&self) -> String {
        let u = self.updates();
        format!(
            "mode {}, store {}, received {}, processed {}, failed {}, inbox {}, RSS {} MB",
            self.mode().as_str(),
            if self.store_up() { "up" } else { "DOWN" },
            u.received,
            u.processed,
            u.failed,
            u.inbox_depth,
            self.rss_bytes() / (1024 * 1024)
        )
    }
}
