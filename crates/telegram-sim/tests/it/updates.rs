//! Shapes of the update payloads built by `Upd`.

use crate::common;

use common::{call, sim};
use serde_json::{Value, json};
use telegram_sim::{Sim, Upd};

async fn last_update(sim: &Sim) -> Value {
    let (_, v) = call(sim, "getUpdates", json!({"offset": -1})).await;
    v["result"][0].clone()
}

#[tokio::test]
async fn text_is_a_private_message_from_the_chat_user() {
    let sim = sim(1.0).await;
    let date = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
        - 100;
    let id = sim.inject(Upd::text(77, "hello").date(date));
    let u = last_update(&sim).await;
    assert_eq!(u["update_id"], id);
    let m = &u["message"];
    assert_eq!(m["chat"]["id"], 77);
    assert_eq!(m["chat"]["type"], "private");
    assert_eq!(m["from"]["id"], 77);
    assert_eq!(m["from"]["is_bot"], false);
    assert_eq!(m["text"], "hello");
    assert_eq!(m["date"], date);
    assert!(m["message_id"].as_i64().unwrap() >= 1);
}

#[tokio::test]
async fn message_ids_increase_per_chat_across_user_and_bot_messages() {
    let sim = sim(1.0).await;
    sim.inject(Upd::text(1, "a"));
    let (_, sent) = call(&sim, "sendMessage", json!({"chat_id": 1, "text": "b"})).await;
    sim.inject(Upd::text(1, "c"));
    let (_, v) = call(&sim, "getUpdates", json!({})).await;
    let first = v["result"][0]["message"]["message_id"].as_i64().unwrap();
    let third = v["result"][1]["message"]["message_id"].as_i64().unwrap();
    assert_eq!(sent["result"]["message_id"].as_i64().unwrap(), first + 1);
    assert_eq!(third, first + 2);
}

#[tokio::test]
async fn command_has_a_bot_command_entity() {
    let sim = sim(1.0).await;
    sim.inject(Upd::command(5, "/start payload"));
    let m = last_update(&sim).await["message"].clone();
    assert_eq!(m["text"], "/start payload");
    assert_eq!(
        m["entities"],
        json!([{"offset": 0, "length": 6, "type": "bot_command"}])
    );
}

#[tokio::test]
async fn edited_text_is_an_edited_message_with_edit_date() {
    let sim = sim(1.0).await;
    sim.inject(Upd::text(5, "v1"));
    sim.inject(Upd::edited_text(5, "v2"));
    let (_, v) = call(&sim, "getUpdates", json!({})).await;
    let orig = &v["result"][0]["message"];
    let e = &v["result"][1]["edited_message"];
    assert_eq!(e["text"], "v2");
    assert_eq!(e["message_id"], orig["message_id"]);
    assert!(e["edit_date"].as_i64().is_some());
}

#[tokio::test]
async fn callback_refers_to_the_bots_last_message_with_its_keyboard() {
    let sim = sim(1.0).await;
    let kb = json!({"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]});
    let (_, sent) = call(
        &sim,
        "sendMessage",
        json!({"chat_id": 9, "text": "Sure?", "reply_markup": kb}),
    )
    .await;
    sim.inject(Upd::callback(9, "yes"));
    let cq = last_update(&sim).await["callback_query"].clone();
    assert_eq!(cq["from"]["id"], 9);
    assert_eq!(cq["data"], "yes");
    assert!(cq["id"].as_str().is_some());
    assert!(cq["chat_instance"].as_str().is_some());
    assert_eq!(cq["message"]["message_id"], sent["result"]["message_id"]);
    assert_eq!(cq["message"]["from"]["is_bot"], true);
    assert_eq!(cq["message"]["reply_markup"], kb);
}

#[tokio::test]
async fn location_member_update_and_unknown_kind_shapes() {
    let sim = sim(1.0).await;
    sim.inject(Upd::location(3, 52.5, 13.4));
    let m = last_update(&sim).await["message"].clone();
    assert_eq!(m["location"], json!({"latitude": 52.5, "longitude": 13.4}));

    sim.inject(Upd::member_update(3));
    let mm = last_update(&sim).await["my_chat_member"].clone();
    assert_eq!(mm["chat"]["id"], 3);
    assert_eq!(mm["old_chat_member"]["status"], "member");
    assert_eq!(mm["new_chat_member"]["status"], "kicked");
    assert_eq!(mm["new_chat_member"]["user"]["is_bot"], true);

    sim.inject(Upd::unknown_kind(3));
    let u = last_update(&sim).await;
    assert_eq!(u["future_thing"]["chat"]["id"], 3);
}

#[tokio::test]
async fn inject_json_assigns_a_fresh_update_id() {
    let sim = sim(1.0).await;
    let a = sim.inject(Upd::text(1, "a"));
    let b = sim.inject_json(json!({"update_id": 5, "future_thing": {"x": 1}}));
    assert_eq!(b, a + 1);
    let u = last_update(&sim).await;
    assert_eq!(u["update_id"], b);
    assert_eq!(u["future_thing"]["x"], 1);
}

#[tokio::test]
async fn first_update_id_defaults_to_a_random_id_in_telegrams_range() {
    let sim = Sim::builder().start().await.unwrap();
    let id = sim.inject(Upd::text(1, "x"));
    assert!((2_000_001..1_000_000_000).contains(&id), "{id}");
}
