//! Bot API parameters from the query string and the body
//! (`application/json`, `application/x-www-form-urlencoded`,
//! `multipart/form-data`), merged into one JSON object (body wins).

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::api::ApiError;

/// Merged request parameters.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(pub Map<String, Value>);

fn add_form_pairs(map: &mut Map<String, Value>, raw: &[u8]) {
    for (k, v) in url::form_urlencoded::parse(raw) {
        map.insert(k.into_owned(), Value::String(v.into_owned()));
    }
}

impl Params {
    /// Parse a request's query and body.
    pub(crate) async fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Self, ApiError> {
        let mut map = Map::new();
        if let Some(q) = query {
            add_form_pairs(&mut map, q.as_bytes());
        }
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        if body.is_empty() {
            return Ok(Self(map));
        }
        if ct.starts_with("application/json") {
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(obj)) => map.extend(obj),
                Ok(_) | Err(_) => return Err(ApiError::bad_request("can't parse JSON object")),
            }
        } else if ct.starts_with("multipart/form-data") {
            let boundary = content_type
                .and_then(|c| multer::parse_boundary(c).ok())
                .ok_or_else(|| ApiError::bad_request("can't parse multipart/form-data"))?;
            parse_multipart(&mut map, body, boundary)
                .await
                .map_err(|_| ApiError::bad_request("can't parse multipart/form-data"))?;
        } else {
            // application/x-www-form-urlencoded, and what clients send without a type.
            add_form_pairs(&mut map, &body);
        }
        Ok(Self(map))
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// The size of an uploaded file: the parameter itself, or `attach://<name>` naming the
    /// part that holds it. `None` when no file came (a certificate sent as a string).
    pub(crate) fn file_size(&self, key: &str) -> Option<u64> {
        let size = |v: &Value| {
            v.get("file_name")
                .and(v.get("size"))
                .and_then(Value::as_u64)
        };
        match self.get(key)? {
            Value::String(s) => s
                .strip_prefix("attach://")
                .and_then(|part| self.get(part))
                .and_then(size),
            other => size(other),
        }
    }

    /// A parameter as text (numbers and booleans are printed).
    pub(crate) fn str(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// A parameter as an integer (`"42"` or `42`).
    pub(crate) fn i64(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// Telegram's boolean parsing: `true`/`yes`/`1`, case-insensitive, trimmed.
    pub(crate) fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            Some(Value::String(s)) => {
                let s = s.trim().to_ascii_lowercase();
                s == "true" || s == "yes" || s == "1"
            }
            _ => false,
        }
    }

    /// A parameter that may be JSON or a string holding JSON.
    pub(crate) fn json(&self, key: &str) -> Option<Value> {
        match self.get(key)? {
            Value::String(s) => serde_json::from_str(s).ok(),
            other => Some(other.clone()),
        }
    }

    /// The parameters as one JSON object (for call records).
    pub(crate) fn to_value(&self) -> Value {
        Value::Object(self.0.clone())
    }
}

async fn parse_multipart(
    map: &mut Map<String, Value>,
    body: Bytes,
    boundary: String,
) -> Result<(), multer::Error> {
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    while let Some(field) = mp.next_field().await? {
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        let file_name = field.file_name().map(str::to_owned);
        let data = field.bytes().await?;
        let value = match file_name {
            Some(f) => serde_json::json!({"file_name": f, "size": data.len()}),
            None => Value::String(String::from_utf8_lossy(&data).into_owned()),
        };
        map.insert(name, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn query_and_form_merge_with_body_winning() {
        let p = Params::parse(
            Some("a=1&b=x"),
            Some("application/x-www-form-urlencoded"),
            Bytes::from_static(b"b=y&c=%20true"),
        )
        .await
        .unwrap_or_default();
        assert_eq!(p.i64("a"), Some(1));
        assert_eq!(p.str("b").as_deref(), Some("y"));
        assert!(p.bool("c"));
    }

    #[tokio::test]
    async fn bad_json_is_a_bad_request() {
        let r = Params::parse(None, Some("application/json"), Bytes::from_static(b"[1]")).await;
        assert_eq!(r.map(|_| ()).map_err(|e| e.code), Err(400));
    }
}
