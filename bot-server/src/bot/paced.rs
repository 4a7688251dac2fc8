//! [`PacedBot`]: kept for programs written against telbot before teloxide's `Bot` went through
//! telbot's client. A handler's plain `Bot` is paced now (its calls reach the Bot API through
//! telbot's client, see `host::gateway`): at `telegram.global_per_sec` overall and
//! `telegram.per_chat_per_sec` per chat, cut to this instance's share of the fleet, a 429
//! waited out for its `retry_after` and sent again inside the call, a 5xx or a network error
//! retried, and no token in any error. No Throttle worker and no 250 ms tick.

/// teloxide's `Bot` as handlers get it (the same type: `bot: PacedBot` and `bot: Bot` are one
/// dependency).
pub type PacedBot = teloxide::Bot;
