//! A watchdog action's detail in words, for people: the watchdog keeps each action's detail as
//! JSON in `wd_actions.detail` (recovery counts, the restart method, the error); its alerts and
//! the bot-server dashboard's table of watchdog actions show it as
//! `drained 9, replayed 9, dropped 0`, not as the JSON.

use serde_json::Value;

/// The stored detail text (JSON, or text written by an older build) in words.
pub fn detail_text(stored: &str) -> String {
    match serde_json::from_str::<Value>(stored.trim()) {
        Ok(v @ Value::Object(_)) => detail_words(&v),
        _ => stored.trim().to_string(),
    }
}

/// An action's detail in words: recovery counts, then what was set or asked for, then why or
/// what went wrong. An empty object gives an empty string.
pub fn detail_words(d: &Value) -> String {
    let n = |k: &str| d.get(k).and_then(Value::as_u64);
    let s = |k: &str| d.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut parts: Vec<String> = Vec::new();
    if let (Some(a), Some(b), Some(c)) = (n("drained"), n("replayed"), n("dropped")) {
        parts.push(format!("drained {a}, replayed {b}, dropped {c}"));
        if d.get("resumed").and_then(Value::as_bool) == Some(true) {
            parts.push("finished an interrupted recovery".into());
        }
        match d.get("webhook_set").and_then(Value::as_bool) {
            Some(true) => parts.push("webhook set again".into()),
            Some(false) => parts.push("webhook NOT set again".into()),
            None => {}
        }
    } else if let Some(url) = s("url") {
        parts.push(format!("webhook set to {url}"));
    }
    if let Some(m) = s("method") {
        let mut p = format!("restart asked for via {m}");
        if let Some(code) = n("status") {
            p.push_str(&format!(" (HTTP {code})"));
        }
        parts.push(p);
    }
    if let Some(w) = s("why") {
        parts.push(w.to_string());
    }
    if let Some(e) = s("error") {
        parts.push(format!("error: {e}"));
    }
    if parts.is_empty()
        && let Value::Object(m) = d
    {
        // Unknown fields: shown as they are, in one line.
        parts.extend(m.iter().map(|(k, v)| match v {
            Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        }));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn details_in_words_table() {
        let cases = [
            (
                json!({"drained": 9, "replayed": 9, "dropped": 0, "webhook_set": true, "resumed": false}),
                "drained 9, replayed 9, dropped 0; webhook set again",
            ),
            (
                json!({"drained": 3, "replayed": 2, "dropped": 0, "webhook_set": true, "resumed": true, "error": "the bot answered 500"}),
                "drained 3, replayed 2, dropped 0; finished an interrupted recovery; webhook set again; error: the bot answered 500",
            ),
            (
                json!({"url": "https://bot.example/webhook"}),
                "webhook set to https://bot.example/webhook",
            ),
            (
                json!({"method": "render", "service_id": "srv-1", "status": 202}),
                "restart asked for via render (HTTP 202)",
            ),
            (
                json!({"method": "command", "error": "the command exited with 1"}),
                "restart asked for via command; error: the command exited with 1",
            ),
            (
                json!({"why": "lossless-recovery ran 30 s ago (cooldown 300 s)"}),
                "lossless-recovery ran 30 s ago (cooldown 300 s)",
            ),
            (json!({}), ""),
            (json!({"odd": 1, "b": "x"}), "b: x; odd: 1"),
        ];
        for (v, want) in cases {
            assert_eq!(detail_words(&v), want, "{v}");
            assert_eq!(detail_text(&v.to_string()), want, "{v}");
        }
    }

    #[test]
    fn text_that_is_not_a_json_object_is_shown_as_it_is() {
        assert_eq!(
            detail_text("drained 9, replayed 9, dropped 0"),
            "drained 9, replayed 9, dropped 0"
        );
        assert_eq!(detail_text(" 42 "), "42");
        assert_eq!(detail_text(""), "");
    }
}
