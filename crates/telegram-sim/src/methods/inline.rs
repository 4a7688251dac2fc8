//! answerInlineQuery: the results a bot offers for an inline query.
//!
//! Checked as Telegram checks them: an id is required, `results` must be a JSON array of
//! at most 50 objects, each with a `type` and an `id` of 1–64 bytes, and no id twice. The
//! sim does not remember which queries it sent, so any non-empty id is accepted (Telegram
//! would also refuse ids older than its answer window). Read the results back with
//! `Sim::calls_to("answerInlineQuery")`.

use std::collections::HashSet;

use serde_json::Value;

use crate::api::{ApiError, ApiOk, ApiResult};
use crate::params::Params;

/// Telegram's limit on results per answer.
const MAX_RESULTS: usize = 50;

pub(super) fn answer_inline_query(p: &Params) -> ApiResult {
    if p.str("inline_query_id")
        .is_none_or(|id| id.trim().is_empty())
    {
        return Err(ApiError::bad_request(
            "query is too old and response timeout expired or query ID is invalid",
        ));
    }
    let Some(Value::Array(results)) = p.json("results") else {
        return Err(ApiError::bad_request(
            "can't parse inline query results JSON object",
        ));
    };
    if results.len() > MAX_RESULTS {
        return Err(ApiError::bad_request("RESULTS_TOO_MUCH"));
    }
    let mut ids = HashSet::new();
    for r in &results {
        if r.get("type").and_then(Value::as_str).is_none() {
            return Err(ApiError::bad_request(
                "can't parse inline query result: Field \"type\" must be of type String",
            ));
        }
        let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
        if id.is_empty() || id.len() > 64 {
            return Err(ApiError::bad_request("RESULT_ID_INVALID"));
        }
        if !ids.insert(id) {
            return Err(ApiError::bad_request("RESULT_ID_DUPLICATE"));
        }
    }
    Ok(ApiOk::yes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(v: Value) -> Result<(), String> {
        let Value::Object(m) = v else {
            return Err("not an object".to_owned());
        };
        answer_inline_query(&Params(m))
            .map(|ok| assert_eq!(ok.result, "true"))
            .map_err(|e| e.description)
    }

    fn article(id: &str) -> Value {
        json!({"type": "article", "id": id, "title": id,
               "input_message_content": {"message_text": id}})
    }

    #[test]
    fn results_are_checked_as_telegram_checks_them() {
        assert_eq!(
            answer(json!({"inline_query_id": "1", "results": [article("a"), article("b")]})),
            Ok(())
        );
        // Form-encoded clients send the array as a JSON string; an empty answer is allowed.
        assert_eq!(
            answer(json!({"inline_query_id": "1", "results": "[]"})),
            Ok(())
        );
        assert_eq!(
            answer(json!({"results": []})),
            Err(
                "Bad Request: query is too old and response timeout expired or query ID is invalid"
                    .to_owned()
            )
        );
        assert_eq!(
            answer(json!({"inline_query_id": "1", "results": {"a": 1}})),
            Err("Bad Request: can't parse inline query results JSON object".to_owned())
        );
        assert_eq!(
            answer(json!({"inline_query_id": "1", "results": [article("a"), article("a")]})),
            Err("Bad Request: RESULT_ID_DUPLICATE".to_owned())
        );
        assert_eq!(
            answer(json!({"inline_query_id": "1", "results": [article("")]})),
            Err("Bad Request: RESULT_ID_INVALID".to_owned())
        );
        let many: Vec<Value> = (0..51).map(|i| article(&i.to_string())).collect();
        assert_eq!(
            answer(json!({"inline_query_id": "1", "results": many})),
            Err("Bad Request: RESULTS_TOO_MUCH".to_owned())
        );
    }
}
