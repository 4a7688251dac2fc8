//! A replayed update's answer runs with the bot's token, so only a reply is run: whoever
//! answers on `BOT_URL` (a compromised or misrouted service) must not ban members, delete
//! messages or move the webhook through the watchdog.

use crate::common;

use common::World;
use telegram_sim::{Upd, WebhookFault};
use watchdog::{ActionKind, ActionResult};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_answer_that_is_no_reply_is_not_run() {
    let w = World::start().await;
    w.bot.answer_with("banChatMember");
    let wd = w.watchdog().await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..6 {
        w.sim.inject(Upd::text(300, format!("{i}")));
    }
    w.wait("a delivery error", |s| {
        s.webhook_info()["last_error_message"].as_str().is_some()
    })
    .await;
    let out = wd.check().await;
    let a = &out.report.actions;
    assert_eq!(
        (a[0].kind, a[0].result),
        (ActionKind::LosslessRecovery, ActionResult::Succeeded),
        "{a:#?}"
    );
    // Every update was replayed to the bot (and it took them), none of its calls was run.
    assert_eq!(a[0].detail.replayed, Some(6));
    assert_eq!(w.bot.order().len(), 6);
    assert!(
        w.calls_to("banChatMember") == 0,
        "the watchdog ran the bot's banChatMember"
    );
    // A real reply is still run: scenarios.rs::a_reply_in_the_bots_answer_to_a_replayed_update_is_executed.
}
