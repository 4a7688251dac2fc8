//! One run's checks, under one deadline (`watchdog.check_timeout`): the Telegram check, the
//! bot's liveness and the reference probe at once, then the performance and integration
//! checks in what time is left. A check that runs out of time still yields what it could
//! say (the Bot API or the bot "did not answer within …"), so the run knows which side went
//! silent — the difference between a bot that is down and a watchdog that cannot see.

use telbot_shared::telegram::WebhookInfo;
use tokio::time::{Instant, timeout_at};

use crate::checks::blind::{self, Sight};
use crate::checks::bot::BotFacts;
use crate::checks::telegram::TelegramFacts;
use crate::checks::{self, Ctx};
use crate::report::{Finding, Level, incident};
use crate::schedule::RunSet;

/// What the checks of one run saw.
#[derive(Debug)]
pub struct Gathered {
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
pub async fn gather(ctx: &Ctx, set: RunSet, keep: bool) -> Gathered {
    let limit = ctx.cfg.check_timeout;
    let deadline = Instant::now() + limit;
    let (tg, bot, reference) = tokio::join!(
        timeout_at(deadline, checks::telegram::check(ctx, keep)),
        timeout_at(deadline, checks::bot::liveness(ctx)),
        timeout_at(deadline, blind::reference(ctx)),
    );
    let tg = tg.unwrap_or_else(|_| TelegramFacts::timed_out(limit));
    let bot = bot.unwrap_or_else(|_| BotFacts::timed_out(ctx, limit));
    let reference = reference.unwrap_or(ctx.cfg.reference_url.as_ref().map(|_| false));
    let mut late = Vec::new();
    let mut findings = tg.findings;
    findings.extend(bot.findings.iter().cloned());
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
    if set.performance || set.integration {
        match timeout_at(deadline, checks::bot::performance(ctx, &bot, keep)).await {
            Ok(fs) => findings.extend(fs),
            Err(_) => late.push("the performance checks"),
        }
    }
    if set.integration {
        match timeout_at(deadline, checks::integration::check(ctx)).await {
            Ok(fs) => findings.extend(fs),
            Err(_) => late.push("the integration probes"),
        }
    }
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
