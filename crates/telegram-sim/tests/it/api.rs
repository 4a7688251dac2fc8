//! Bot API routing, tokens, parameter formats, envelopes and method faults.

use crate::common;

use std::time::{Duration, Instant};

use common::{call, client, desc, sim};
use serde_json::{Value, json};
use telegram_sim::{ApiFault, Sim};

async fn get(url: String) -> (u16, Value) {
    let r = client().get(url).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn unknown_token_is_401_unauthorized() {
    let sim = sim(1.0).await;
    let (status, v) = get(format!("{}/bot999:other-token/getMe", sim.base_url())).await;
    assert_eq!(status, 401);
    assert_eq!(
        v,
        json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
    );
}

#[tokio::test]
async fn malformed_token_is_401_invalid_token_specified() {
    let sim = sim(1.0).await;
    let (status, v) = get(format!("{}/botnocolon/getMe", sim.base_url())).await;
    assert_eq!(status, 401);
    assert_eq!(desc(&v), "Unauthorized: invalid token specified");
}

#[tokio::test]
async fn unknown_method_is_404_method_not_found() {
    let sim = sim(1.0).await;
    let (status, v) = call(&sim, "sendTelepathy", json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(
        v,
        json!({"ok": false, "error_code": 404, "description": "Not Found: method not found"})
    );
}

#[tokio::test]
async fn path_outside_bot_is_404_not_found() {
    let sim = sim(1.0).await;
    let (status, v) = get(format!("{}/api/getMe", sim.base_url())).await;
    assert_eq!(status, 404);
    assert_eq!(desc(&v), "Not Found");
}

#[tokio::test]
async fn get_me_has_every_field_teloxide_needs() {
    let sim = sim(1.0).await;
    let (status, v) = call(&sim, "getMe", json!({})).await;
    assert_eq!(status, 200);
    let me = &v["result"];
    assert_eq!(me["id"], 123_456);
    assert_eq!(me["is_bot"], true);
    for key in [
        "has_main_web_app",
        "can_join_groups",
        "can_read_all_group_messages",
        "supports_inline_queries",
        "username",
        "first_name",
    ] {
        assert!(me.get(key).is_some(), "missing {key}: {me}");
    }
}

#[tokio::test]
async fn pascal_case_method_names_work_like_teloxide_sends_them() {
    let sim = sim(1.0).await;
    let (status, v) = call(&sim, "GetMe", json!({})).await;
    assert_eq!((status, v["ok"].clone()), (200, json!(true)));
    let (status, v) = call(&sim, "SendMessage", json!({"chat_id": 5, "text": "hi"})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(sim.calls_to("sendMessage").len(), 1);
    assert_eq!(sim.calls()[0].method, "getMe");
}

#[tokio::test]
async fn envelope_body_keeps_telegram_key_order() {
    let sim = sim(1.0).await;
    let url = format!("{}/bot{}/deleteWebhook", sim.base_url(), sim.token());
    let r = client().post(url).send().await.unwrap();
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"ok":true,"result":true,"description":"Webhook is already deleted"}"#
    );
}

fn url(sim: &Sim, method: &str) -> String {
    format!("{}/bot{}/{}", sim.base_url(), sim.token(), method)
}

#[tokio::test]
async fn query_string_params_are_read() {
    let sim = sim(1.0).await;
    let r = client()
        .get(format!(
            "{}?chat_id=7&text=from%20query",
            url(&sim, "sendMessage")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m = &sim.sent_messages()[0];
    assert_eq!((m.chat_id, m.text.as_str()), (7, "from query"));
}

#[tokio::test]
async fn form_urlencoded_params_are_read_and_merged_with_query() {
    let sim = sim(1.0).await;
    let r = client()
        .post(format!("{}?chat_id=8", url(&sim, "sendMessage")))
        .form(&[
            ("text", "from form"),
            (
                "reply_markup",
                r#"{"inline_keyboard":[[{"text":"a","callback_data":"b"}]]}"#,
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["result"]["reply_markup"]["inline_keyboard"][0][0]["text"],
        "a"
    );
    let m = &sim.sent_messages()[0];
    assert_eq!((m.chat_id, m.text.as_str()), (8, "from form"));
    assert!(m.reply_markup.is_some());
    assert_eq!(sim.calls()[0].params["chat_id"], "8");
}

#[tokio::test]
async fn json_params_are_read() {
    let sim = sim(1.0).await;
    let (status, v) = call(
        &sim,
        "sendMessage",
        json!({"chat_id": 9, "text": "from json"}),
    )
    .await;
    assert_eq!(status, 200);
    let msg = &v["result"];
    assert_eq!(msg["chat"]["id"], 9);
    assert_eq!(msg["text"], "from json");
    assert_eq!(msg["from"]["is_bot"], true);
    assert!(msg["date"].as_i64().unwrap() > 1_600_000_000);
    let (_, v2) = call(&sim, "sendMessage", json!({"chat_id": 9, "text": "again"})).await;
    assert_eq!(
        v2["result"]["message_id"].as_i64().unwrap(),
        msg["message_id"].as_i64().unwrap() + 1
    );
}

#[tokio::test]
async fn multipart_text_fields_are_read() {
    let sim = sim(1.0).await;
    let form = reqwest::multipart::Form::new()
        .text("chat_id", "10")
        .text("text", "from multipart");
    let r = client()
        .post(url(&sim, "sendMessage"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m = &sim.sent_messages()[0];
    assert_eq!((m.chat_id, m.text.as_str()), (10, "from multipart"));
}

#[tokio::test]
async fn send_message_without_text_is_a_bad_request() {
    let sim = sim(1.0).await;
    let (status, v) = call(&sim, "sendMessage", json!({"chat_id": 1})).await;
    assert_eq!(status, 400);
    assert_eq!(desc(&v), "Bad Request: message text is empty");
}

#[tokio::test]
async fn a_message_over_4096_characters_is_too_long() {
    let sim = sim(1.0).await;
    // Counted in UTF-16 code units: 4096 of them pass, one more does not.
    let fits = "é".repeat(4096);
    let (status, _) = call(&sim, "sendMessage", json!({"chat_id": 1, "text": fits})).await;
    assert_eq!(status, 200);
    let over = "😀".repeat(2049);
    let (status, v) = call(&sim, "sendMessage", json!({"chat_id": 1, "text": over})).await;
    assert_eq!(status, 400);
    assert_eq!(desc(&v), "Bad Request: message is too long");
    assert_eq!(sim.sent_messages().len(), 1);
}

#[tokio::test]
async fn simple_methods_answer_true_and_commands_round_trip() {
    let sim = sim(1.0).await;
    for (m, body) in [
        ("sendChatAction", json!({"chat_id": 1, "action": "typing"})),
        ("answerCallbackQuery", json!({"callback_query_id": "1"})),
        (
            "setMyCommands",
            json!({"commands": [{"command": "start", "description": "go"}]}),
        ),
    ] {
        let (status, v) = call(&sim, m, body).await;
        assert_eq!((status, v["result"].clone()), (200, json!(true)), "{m}");
    }
    let (_, v) = call(&sim, "getMyCommands", json!({})).await;
    assert_eq!(v["result"][0]["command"], "start");
    call(&sim, "deleteMyCommands", json!({})).await;
    let (_, v) = call(&sim, "getMyCommands", json!({})).await;
    assert_eq!(v["result"], json!([]));
    let (status, v) = call(
        &sim,
        "editMessageText",
        json!({"chat_id": 1, "message_id": 3, "text": "new"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["result"]["text"], "new");
    assert_eq!(v["result"]["message_id"], 3);
}

#[tokio::test]
async fn fail_method_500_is_consumed_once_per_call_and_recorded() {
    let sim = sim(1.0).await;
    sim.fail_method("GETME", ApiFault::Status500, 2);
    for _ in 0..2 {
        let (status, v) = call(&sim, "getMe", json!({})).await;
        assert_eq!(status, 500);
        assert_eq!(
            v,
            json!({"ok": false, "error_code": 500, "description": "Internal Server Error"})
        );
    }
    let (status, _) = call(&sim, "getMe", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(sim.calls_to("getMe").len(), 3);
}

#[tokio::test]
async fn fail_method_429_sets_retry_after_header_and_parameter() {
    let sim = sim(1.0).await;
    sim.fail_method(
        "sendMessage",
        ApiFault::TooManyRequests { retry_after: 7 },
        1,
    );
    let r = client()
        .post(url(&sim, "sendMessage"))
        .json(&json!({"chat_id": 1, "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"].to_str().unwrap(), "7");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}})
    );
    assert!(sim.sent_messages().is_empty());
}

#[tokio::test]
async fn fail_method_slow_answers_after_the_delay() {
    let sim = sim(1.0).await;
    sim.fail_method("getMe", ApiFault::Slow(Duration::from_millis(300)), 1);
    let t = Instant::now();
    let (status, _) = call(&sim, "getMe", json!({})).await;
    assert_eq!(status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn fail_method_drop_closes_the_connection_without_an_answer() {
    let sim = sim(1.0).await;
    sim.fail_method("getMe", ApiFault::Drop, 1);
    let r = client().post(url(&sim, "getMe")).send().await;
    assert!(r.is_err(), "expected a transport error, got {r:?}");
    assert_eq!(sim.calls_to("getMe").len(), 1);
    let (status, _) = call(&sim, "getMe", json!({})).await;
    assert_eq!(status, 200);
}
