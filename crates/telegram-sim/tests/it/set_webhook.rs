//! setWebhook / deleteWebhook / getWebhookInfo: validation texts, no-op
//! rule, rate limit, key presence.

use crate::common;

use common::{call, desc, set_webhook, sim};
use serde_json::{Value, json};
use telegram_sim::{Sim, Upd};

async fn set_err(sim: &Sim, body: Value) -> (u16, String) {
    let (status, v) = call(sim, "setWebhook", body).await;
    (status, desc(&v).to_owned())
}

#[tokio::test]
async fn set_webhook_success_then_already_set() {
    let sim = sim(1.0).await;
    let (status, v) = call(
        &sim,
        "setWebhook",
        json!({"url": "https://bot.example.com/hook"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"ok": true, "result": true, "description": "Webhook was set"})
    );
    let (_, v) = call(
        &sim,
        "setWebhook",
        json!({"url": "https://bot.example.com/hook"}),
    )
    .await;
    assert_eq!(desc(&v), "Webhook is already set");
    let (_, v) = call(
        &sim,
        "setWebhook",
        json!({"url": "https://bot.example.com/hook", "max_connections": 5}),
    )
    .await;
    assert_eq!(
        desc(&v),
        "Webhook was set",
        "a changed setting is a real change"
    );
}

#[tokio::test]
async fn invalid_url_is_rejected() {
    let sim = sim(1.0).await;
    for url in [
        "ftp://example.com/x",
        "https://",
        "https://example.com:99999/",
    ] {
        assert_eq!(
            set_err(&sim, json!({"url": url})).await,
            (400, "Bad Request: invalid webhook URL specified".to_owned()),
            "{url}"
        );
    }
}

#[tokio::test]
async fn secret_token_too_long_is_rejected() {
    let sim = sim(1.0).await;
    let body = json!({"url": "https://bot.example.com/hook", "secret_token": "a".repeat(257)});
    assert_eq!(
        set_err(&sim, body).await,
        (400, "Bad Request: secret token is too long".to_owned())
    );
}

#[tokio::test]
async fn secret_token_with_unallowed_characters_is_rejected() {
    let sim = sim(1.0).await;
    let body = json!({"url": "https://bot.example.com/hook", "secret_token": "no spaces!"});
    assert_eq!(
        set_err(&sim, body).await,
        (
            400,
            "Bad Request: secret token contains unallowed characters".to_owned()
        )
    );
    assert_eq!(
        sim.webhook_info()["url"],
        "",
        "a failed setWebhook leaves no webhook"
    );
}

#[tokio::test]
async fn https_port_outside_the_allowed_set_is_rejected() {
    let sim = sim(1.0).await;
    assert_eq!(
        set_err(&sim, json!({"url": "https://bot.example.com:8080/hook"})).await,
        (
            400,
            "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
                .to_owned()
        )
    );
}

#[tokio::test]
async fn http_url_is_rejected_by_default() {
    let sim = Sim::builder()
        .set_webhook_rate_limit(false)
        .start()
        .await
        .unwrap();
    let https_required = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook";
    for url in ["http://127.0.0.1:8080/hook", "http://bot.example.com/hook"] {
        assert_eq!(
            set_err(&sim, json!({"url": url})).await,
            (400, https_required.to_owned())
        );
    }
}

#[tokio::test]
async fn http_loopback_is_accepted_only_with_allow_http_loopback() {
    let sim = sim(1.0).await; // allow_http_loopback(true)
    set_webhook(&sim, json!({"url": "http://127.0.0.1:9/hook"})).await;
    set_webhook(&sim, json!({"url": "http://localhost:9/hook"})).await;
    set_webhook(&sim, json!({"url": "http://[::1]:9/hook"})).await;
    let (status, d) = set_err(&sim, json!({"url": "http://bot.example.com/hook"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        d,
        "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
    );
}

#[tokio::test]
async fn max_connections_is_clamped_and_defaults_to_40() {
    let sim = sim(1.0).await;
    set_webhook(&sim, json!({"url": "https://a.example.com/h"})).await;
    assert_eq!(sim.webhook_info()["max_connections"], 40);
    set_webhook(
        &sim,
        json!({"url": "https://a.example.com/h", "max_connections": 1000}),
    )
    .await;
    assert_eq!(sim.webhook_info()["max_connections"], 100);
    set_webhook(
        &sim,
        json!({"url": "https://a.example.com/h", "max_connections": "0"}),
    )
    .await;
    assert_eq!(sim.webhook_info()["max_connections"], 1);
}

#[tokio::test]
async fn allowed_updates_accepts_an_array_or_a_json_string_and_shows_only_when_not_default() {
    let sim = sim(1.0).await;
    set_webhook(
        &sim,
        json!({"url": "https://a.example.com/h", "allowed_updates": ["callback_query", "message"]}),
    )
    .await;
    assert_eq!(
        sim.webhook_info()["allowed_updates"],
        json!(["message", "callback_query"])
    );
    // A form-encoded JSON string; changing only allowed_updates is still "already set".
    let url = format!("{}/bot{}/setWebhook", sim.base_url(), sim.token());
    let v: Value = common::client()
        .post(url)
        .form(&[
            ("url", "https://a.example.com/h"),
            ("allowed_updates", r#"["message"]"#),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(desc(&v), "Webhook is already set");
    assert_eq!(sim.webhook_info()["allowed_updates"], json!(["message"]));
    set_webhook(
        &sim,
        json!({"url": "https://a.example.com/h", "allowed_updates": []}),
    )
    .await;
    assert!(sim.webhook_info().get("allowed_updates").is_none());
}

#[tokio::test]
async fn set_webhook_is_rate_limited_to_one_per_second_unless_switched_off() {
    let limited = Sim::builder().start().await.unwrap();
    set_webhook(&limited, json!({"url": "https://a.example.com/h"})).await;
    let (status, v) = call(
        &limited,
        "setWebhook",
        json!({"url": "https://a.example.com/h2"}),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(
        v,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}})
    );
    // deleteWebhook is not limited.
    let (status, _) = call(&limited, "deleteWebhook", json!({})).await;
    assert_eq!(status, 200);

    let free = sim(1.0).await; // set_webhook_rate_limit(false)
    set_webhook(&free, json!({"url": "https://a.example.com/h"})).await;
    set_webhook(&free, json!({"url": "https://a.example.com/h2"})).await;
}

#[tokio::test]
async fn delete_webhook_without_drop_keeps_pending_updates() {
    let sim = sim(1.0).await;
    set_webhook(&sim, json!({"url": "https://a.example.com/h"})).await;
    sim.inject(Upd::text(1, "keep me"));
    let (_, v) = call(&sim, "deleteWebhook", json!({})).await;
    assert_eq!(
        v,
        json!({"ok": true, "result": true, "description": "Webhook was deleted"})
    );
    assert_eq!(sim.pending_update_count(), 1);
    let (_, v) = call(&sim, "deleteWebhook", json!({})).await;
    assert_eq!(desc(&v), "Webhook is already deleted");
    let (_, v) = call(&sim, "getUpdates", json!({})).await;
    assert_eq!(v["result"][0]["message"]["text"], "keep me");
}

#[tokio::test]
async fn delete_webhook_with_drop_pending_updates_clears_the_queue() {
    let sim = sim(1.0).await;
    set_webhook(&sim, json!({"url": "https://a.example.com/h"})).await;
    sim.inject(Upd::text(1, "gone"));
    let (_, v) = call(&sim, "deleteWebhook", json!({"drop_pending_updates": true})).await;
    assert_eq!(desc(&v), "Webhook was deleted");
    assert_eq!(sim.pending_update_count(), 0);
    // With no webhook, drop still clears and the text stays "already deleted".
    sim.inject(Upd::text(1, "gone too"));
    let (_, v) = call(
        &sim,
        "deleteWebhook",
        json!({"drop_pending_updates": "True"}),
    )
    .await;
    assert_eq!(desc(&v), "Webhook is already deleted");
    assert_eq!(sim.pending_update_count(), 0);
}

#[tokio::test]
async fn webhook_info_key_presence_follows_telegram() {
    let sim = sim(1.0).await;
    assert_eq!(
        sim.webhook_info(),
        json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0})
    );
    set_webhook(
        &sim,
        json!({"url": "https://a.example.com/h", "max_connections": 7}),
    )
    .await;
    let (_, v) = call(&sim, "getWebhookInfo", json!({})).await;
    assert_eq!(
        v["result"],
        json!({"url": "https://a.example.com/h", "has_custom_certificate": false,
               "pending_update_count": 0, "max_connections": 7, "ip_address": "127.0.0.1"})
    );
}

/// setWebhook as `multipart/form-data` with `form`; returns (HTTP status, body).
async fn set_multipart(sim: &Sim, form: reqwest::multipart::Form) -> (u16, Value) {
    let url = format!("{}/bot{}/setWebhook", sim.base_url(), sim.token());
    let resp = common::client()
        .post(url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

const PEM: &[u8] = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

#[tokio::test]
async fn a_certificate_counts_only_when_uploaded_as_a_file() {
    let sim = sim(1.0).await;
    let url = "https://bot.example.com/hook";
    // As a string: ignored, as Telegram does ("sending a String will not work").
    set_webhook(
        &sim,
        json!({"url": url, "certificate": "-----BEGIN CERTIFICATE-----"}),
    )
    .await;
    assert_eq!(sim.webhook_info()["has_custom_certificate"], false);
    // As a file part.
    let form = reqwest::multipart::Form::new().text("url", url).part(
        "certificate",
        reqwest::multipart::Part::bytes(PEM.to_vec()).file_name("self.pem"),
    );
    let (status, v) = set_multipart(&sim, form).await;
    assert_eq!((status, desc(&v)), (200, "Webhook was set"), "{v}");
    assert_eq!(sim.webhook_info()["has_custom_certificate"], true);
    // attach://<part> names the file part.
    let form = reqwest::multipart::Form::new()
        .text("url", url)
        .text("certificate", "attach://c")
        .part(
            "c",
            reqwest::multipart::Part::bytes(PEM.to_vec()).file_name("self.pem"),
        );
    let (_, v) = set_multipart(&sim, form).await;
    assert_eq!(
        desc(&v),
        "Webhook was set",
        "a certificate is never a no-op"
    );
    assert_eq!(sim.webhook_info()["has_custom_certificate"], true);
    // Set again without it: gone.
    set_webhook(&sim, json!({"url": url})).await;
    assert_eq!(sim.webhook_info()["has_custom_certificate"], false);
    // Over 3 MiB.
    let form = reqwest::multipart::Form::new().text("url", url).part(
        "certificate",
        reqwest::multipart::Part::bytes(vec![b'A'; (3 << 20) + 1]).file_name("big.pem"),
    );
    let (status, v) = set_multipart(&sim, form).await;
    assert_eq!(status, 400);
    assert_eq!(
        desc(&v),
        format!(
            "Bad Request: certificate size is too big ({} bytes)",
            (3 << 20) + 1
        )
    );
}

#[tokio::test]
async fn a_fixed_ip_address_is_checked_kept_and_shown() {
    let sim = sim(1.0).await;
    let url = "https://bot.example.com/hook";
    set_webhook(&sim, json!({"url": url})).await;
    assert_eq!(sim.webhook_info()["ip_address"], "127.0.0.1");
    let (_, v) = call(
        &sim,
        "setWebhook",
        json!({"url": url, "ip_address": "203.0.113.7"}),
    )
    .await;
    assert_eq!(
        desc(&v),
        "Webhook was set",
        "a new fixed IP is a real change"
    );
    assert_eq!(sim.webhook_info()["ip_address"], "203.0.113.7");
    let (_, v) = call(
        &sim,
        "setWebhook",
        json!({"url": url, "ip_address": "203.0.113.7"}),
    )
    .await;
    assert_eq!(desc(&v), "Webhook is already set");
    for (ip, why) in [
        (
            "not-an-ip",
            "Bad Request: bad webhook: Invalid IP address specified",
        ),
        (
            "2001:db8::1",
            "Bad Request: bad webhook: IPv6-only addresses are not allowed",
        ),
        (
            "10.0.0.1",
            "Bad Request: bad webhook: IP address 10.0.0.1 is reserved",
        ),
    ] {
        assert_eq!(
            set_err(&sim, json!({"url": url, "ip_address": ip})).await,
            (400, why.to_owned()),
            "{ip}"
        );
    }
}
