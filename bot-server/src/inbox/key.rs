//! The queue key of an update: the one classifier lives in `telbot_shared::queue_key`, shared
//! with the watchdog's replay so both group updates the same way.

pub use telbot_shared::queue_key::classify;
