//! teloxide 0.17 (PascalCase methods, POST JSON) parses what the sim answers.

use crate::common;

use serde_json::json;
use telegram_sim::Upd;
use teloxide::prelude::*;
use teloxide::types::UpdateKind;

fn bot(sim: &telegram_sim::Sim) -> Bot {
    Bot::new(sim.token()).set_api_url(sim.base_url().parse().unwrap())
}

#[tokio::test]
async fn teloxide_parses_get_me_send_message_and_updates() {
    let sim = common::sim(1.0).await;
    let bot = bot(&sim);
    let me = bot.get_me().await.unwrap();
    assert_eq!(me.username(), "sim_test_bot");
    assert_eq!(sim.calls()[0].method, "getMe");

    let msg = bot.send_message(ChatId(5), "hi").await.unwrap();
    assert_eq!(msg.text(), Some("hi"));
    assert_eq!(msg.chat.id, ChatId(5));
    assert_eq!(sim.sent_messages()[0].text, "hi");

    sim.inject(Upd::command(5, "/start"));
    sim.inject(Upd::callback(5, "yes"));
    sim.inject(Upd::edited_text(5, "edited"));
    sim.inject(Upd::location(5, 1.0, 2.0));
    sim.inject(Upd::member_update(5));
    let updates = bot.get_updates().await.unwrap();
    assert_eq!(updates.len(), 5);
    assert!(matches!(&updates[0].kind, UpdateKind::Message(m) if m.text() == Some("/start")));
    assert!(
        matches!(&updates[1].kind, UpdateKind::CallbackQuery(q) if q.data.as_deref() == Some("yes"))
    );
    assert!(matches!(&updates[2].kind, UpdateKind::EditedMessage(_)));
    assert!(matches!(&updates[3].kind, UpdateKind::Message(m) if m.location().is_some()));
    assert!(matches!(&updates[4].kind, UpdateKind::MyChatMember(_)));
}

#[tokio::test]
async fn teloxide_set_webhook_and_webhook_info() {
    let sim = common::sim(1.0).await;
    let bot = bot(&sim);
    bot.set_webhook("https://bot.example.com/hook".parse().unwrap())
        .secret_token("s3cr3t".to_owned())
        .max_connections(10)
        .await
        .unwrap();
    let info = bot.get_webhook_info().await.unwrap();
    assert_eq!(info.url.unwrap().as_str(), "https://bot.example.com/hook");
    assert_eq!(info.max_connections, Some(10));
    let err = bot.get_updates().await.unwrap_err();
    assert!(err.to_string().contains("webhook is active"), "{err}");
    bot.delete_webhook().await.unwrap();
    assert_eq!(
        sim.calls_to("setWebhook")[0].params["secret_token"],
        json!("s3cr3t")
    );
}
