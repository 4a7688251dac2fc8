//! One run's checks, under one deadline (`watchdog.check_timeout`): the Telegram check, the
//! bot's side (liveness, then the performance and integration checks), the reference probe
//! and (with the performance checks) the TLS certificate at once, then the token-conflict judgement in what time is left. A check that runs out of time still yields what it could
//! say (the Bot API or the bot "did not answer within …"), so the run knows which side went
//! silent — the difference between a bot that is down and a watchdog that cannot see.

use telbot_shared::telegram::WebhookInfo;
use tokio::time::{Instant, timeout_at};

use crate::checks;
use crate::checks::blind::{self, Sight};
use crate::checks::bot::BotFacts;
use crate::checks::telegram::TelegramFacts;
use crate::context::Ctx;
use crate::report::{Finding, Level, incident};
use crate::schedule::RunSet;

/// What the checks of one run saw.
#[derive(Debug)]
pub(crate) struct Gathered {
    /// Every finding, the `check-timeout` and `watchdog-blind` ones included.
    pub findings: Vec<Finding>,
    /// The liveness probe's facts.
    pub bot: BotFacts,
    /// getWebhookInfo's answer, when it came.
    pub info: Option<WebhookInfo>,
    /// What answered.
    pub sight: Sight,
}

/// Runs the checks of `set`. `keep`: this watchdog leads and writes the state the next run
/// judges against.
pub(crate) async fn gather(ctx: &Ctx, set: RunSet, keep: bool) -> Gathered {
    let limit = ctx.cfg.check_timeout;
    let deadline = Instant::now() + limit;
    // The Telegram side and the bot side run side by side: a Bot API that hangs must not eat
    // the time of the bot's own checks (the run would then report "the performance checks did
    // not finish" beside "the Bot API did not answer", two pages for one cause).
    // The certificate is judged with the 5-minute checks (its reading is kept for an hour).
    let tls = async {
        if set.performance || set.integration {
            checks::tls::check(ctx, keep).await
        } else {
            None
        }
    };
    let (tg, side, reference, tls) = tokio::join!(
        timeout_at(deadline, checks::telegram::check(ctx, keep)),
        bot_side(ctx, set, keep, deadline),
        timeout_at(deadline, blind::reference(ctx)),
        timeout_at(deadline, tls),
    );
    let tg = tg.unwrap_or_else(|_| TelegramFacts::timed_out(limit));
    let reference = reference.unwrap_or(ctx.cfg.reference_url.as_ref().map(|_| false));
    let BotSide { bot, found, late } = side;
    let mut findings = tg.findings;
    findings.extend(bot.findings.iter().cloned());
    findings.extend(found);
    findings.extend(tls.ok().flatten());
    checks::tls::explain(
        &mut findings,
        tg.info
            .as_ref()
            .and_then(|i| i.last_error_message.as_deref()),
    );
    // Judged from what both sides saw: it gets what is left of the deadline (little, when
    // either side hung) and says nothing when it has no time.
    if let Some(f) = timeout_at(
        deadline,
        checks::conflict::check(
            ctx,
            tg.info.as_ref(),
            bot.health
                .as_ref()
                .is_some_and(|h| h.mode.eq_ignore_ascii_case("webhook")),
        ),
    )
    .await
    .ok()
    .flatten()
    {
        findings.push(f);
    }
    if let Some(late) = late {
        findings.push(if late.is_empty() {
            Finding::ok(
                "watchdog",
                incident::CHECK_TIMEOUT,
                "the checks finished in time",
            )
        } else {
            Finding::new(
                "watchdog",
                incident::CHECK_TIMEOUT,
                Level::Critical,
                format!("{} did not finish within {limit:?}", late.join(" and ")),
            )
        });
    }
    let sight = Sight {
        telegram_silent: tg.silent,
        bot_silent: !bot.up && !bot.answered,
        reference,
    };
    findings.push(sight.finding());
    if sight.blind() {
        blind::keep_sighted(&mut findings);
    }
    Gathered {
        findings,
        bot,
        info: tg.info,
        sight,
    }
}

/// What the bot's side of a run found.
struct BotSide {
    bot: BotFacts,
    /// The performance and integration findings.
    found: Vec<Finding>,
    /// The bot-side checks that ran out of time; `None` when the liveness probe itself did
    /// (its `bot-down` finding already says so, and what would follow never ran).
    late: Option<Vec<&'static str>>,
}

/// The liveness probe, then the performance and integration checks, before `deadline`.
async fn bot_side(ctx: &Ctx, set: RunSet, keep: bool, deadline: Instant) -> BotSide {
    let Ok(bot) = timeout_at(deadline, checks::bot::liveness(ctx)).await else {
        return BotSide {
            bot: BotFacts::timed_out(ctx, ctx.cfg.check_timeout),
            found: Vec::new(),
            late: None,
        };
    };
    let mut found = Vec::new();
    let mut late = Vec::new();
    if set.performance || set.integration {
        match timeout_at(deadline, checks::bot::performance(ctx, &bot, keep)).await {
            Ok(fs) => found.extend(fs),
            Err(_) => late.push("the performance checks"),
        }
    }
    if set.integration {
        let canary = bot.up && !bot.store_trouble();
        match timeout_at(deadline, checks::integration::check(ctx, canary)).await {
            Ok(fs) => found.extend(fs),
            Err(_) => late.push("the integration probes"),
        }
    }
    BotSide {
        bot,
        found,
        late: Some(late),
    }
}
