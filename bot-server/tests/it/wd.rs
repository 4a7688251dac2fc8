//! A watchdog (the library) on a test bot's store, for the tests that need both daemons.

use std::collections::HashMap;

use telegram_sim::Sim;

use crate::common::{SECRET, TestDb};

/// A watchdog on the bot's store, reaching the bot at `bot_url`.
pub(crate) async fn watchdog_on(
    sim: &Sim,
    db: &TestDb,
    bot_url: &str,
    deadline: &str,
) -> watchdog::Watchdog {
    let env: HashMap<String, String> = [
        ("TELEGRAM_BOT_TOKEN", sim.token()),
        ("TELEGRAM_API_URL", sim.base_url()),
        ("PUBLIC_URL", bot_url.to_string()),
        ("WEBHOOK_SECRET", SECRET.to_string()),
        ("DATABASE_URL", db.url.clone()),
        ("TELBOT__WATCHDOG__CANARY_DEADLINE", deadline.to_string()),
        ("TELBOT__WATCHDOG__HTTP_TIMEOUT", "2s".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let cfg = watchdog::WatchdogConfig::load(None, &env).unwrap();
    watchdog::Watchdog::build_with(
        cfg,
        std::sync::Arc::new(watchdog::SystemClock),
        std::sync::Arc::new(watchdog::LogSink),
    )
    .await
    .unwrap()
}
