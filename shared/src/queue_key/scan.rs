//! [`scan`]: the update_id, kind and queue key read from an update's bytes in one pass,
//! without building a `serde_json::Value` (every field an allocation) only to throw it away.
//! The webhook does this for every update; the handler parses the update fully once, later.
//!
//! It gives what [`super::classify`] gives for the same document (tested below on the tricky
//! cases: duplicate keys, where the last wins; keys in any order, where the smallest kind name
//! wins; ids that are floats, strings, too big or nested wrongly). Values nobody needs are
//! skipped without recursing, so a deeply nested update is classified like any other.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer;
use serde::de::{Deserialize, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{Refs, key_of};

/// What the webhook needs from an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The top-level `update_id` when it is an integer.
    pub update_id: Option<i64>,
    /// The kind (the smallest field name other than `update_id`, as [`super::classify`]).
    pub kind: String,
    /// The queue key.
    pub key: String,
}

/// Reads `body` (one JSON document) in one pass.
pub fn scan(body: &[u8]) -> Result<Head, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let top = de.deserialize_any(TopVisitor)?;
    de.end()?;
    Ok(match top {
        Top::Other => Head {
            update_id: None,
            kind: "unknown".into(),
            key: "none".into(),
        },
        Top::Object {
            update_id,
            kind: None,
        } => Head {
            update_id,
            kind: "empty".into(),
            key: "none".into(),
        },
        Top::Object {
            update_id,
            kind: Some((kind, refs)),
        } => Head {
            key: key_of(&kind, &refs, update_id),
            update_id,
            kind,
        },
    })
}

enum Top {
    Other,
    Object {
        update_id: Option<i64>,
        kind: Option<(String, Refs)>,
    },
}

/// A map key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Drains a sequence or a map nobody needs.
fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the visits of values that are not what a visitor looks for: booleans, floats,
/// null and sequences (drained) always; integers and strings where the visitor does not want
/// them (`ints`, `str`).
macro_rules! others_are {
    ($none:expr $(, $extra:ident)*) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            drain_seq(seq)?;
            Ok($none)
        }
        $(others_are!(@ $extra $none);)*
    };
    (@ ints $none:expr) => {
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($none)
        }
    };
    (@ str $none:expr) => {
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($none)
        }
    };
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    others_are!(Top::Other, ints, str);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut update_id = None;
        let mut kind: Option<(String, Refs)> = None;
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            if k == "update_id" {
                update_id = map.next_value::<Int>()?.0;
                continue;
            }
            let refs = map.next_value_seed(RefsSeed)?;
            // serde_json's map is sorted: the first kind is the smallest name, and a repeated
            // key keeps its last value.
            match &kind {
                Some((best, _)) if best.as_str() < k.as_ref() => {}
                _ => kind = Some((k.into_owned(), refs)),
            }
        }
        Ok(Top::Object { update_id, kind })
    }
}

/// An integer as `Value::as_i64` reads it (`None` for floats, strings, too big, containers).
struct Int(Option<i64>);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            others_are!(Int(None), str);
            fn visit_i64<E>(self, v: i64) -> Result<Int, E> {
                Ok(Int(Some(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Int, E> {
                Ok(Int(i64::try_from(v).ok()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Int, A::Error> {
                drain_map(map)?;
                Ok(Int(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string as `Value::as_str` reads it.
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            others_are!(Text(None), ints);
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text, A::Error> {
                drain_map(map)?;
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// `{"id": <int>, ...}` as `pointer("/x/id")` reads it.
struct IdOf(Option<i64>);

impl<'de> Deserialize<'de> for IdOf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IdOf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            others_are!(IdOf(None), ints, str);
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdOf, A::Error> {
                let mut id = None;
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    if k == "id" {
                        id = map.next_value::<Int>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(IdOf(id))
            }
        }
        d.deserialize_any(V)
    }
}

struct RefsSeed;

impl<'de> DeserializeSeed<'de> for RefsSeed {
    type Value = Refs;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Refs, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RefsSeed {
    type Value = Refs;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    others_are!(Refs::default(), ints, str);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Refs, A::Error> {
        let mut r = Refs::default();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match k.as_ref() {
                "chat" => r.chat = map.next_value::<IdOf>()?.0,
                "from" => r.from = map.next_value::<IdOf>()?.0,
                "user" => r.user = map.next_value::<IdOf>()?.0,
                "id" => r.id = map.next_value::<Text>()?.0,
                "poll_id" => r.poll_id = map.next_value::<Text>()?.0,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn both(doc: &str) {
        let value: Value = serde_json::from_str(doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
        let (kind, key) = super::super::classify(&value);
        let head = scan(doc.as_bytes()).unwrap_or_else(|e| panic!("{doc}: {e}"));
        let update_id = value.get("update_id").and_then(Value::as_i64);
        assert_eq!(
            head,
            Head {
                update_id,
                kind,
                key
            },
            "{doc}"
        );
    }

    #[test]
    fn scan_agrees_with_the_tree_classifier() {
        let docs = [
            r#"{"update_id":1,"message":{"chat":{"id":5},"from":{"id":9},"text":"hi"}}"#,
            r#"{"message":{"from":{"id":9},"chat":{"id":-100123}},"update_id":2}"#,
            r#"{"update_id":3,"callback_query":{"id":"x","from":{"id":9},"message":{"chat":{"id":5}}}}"#,
            r#"{"update_id":4,"chat_member":{"chat":{"id":7},"user":{"id":8}}}"#,
            r#"{"update_id":5,"chat_join_request":{"user":{"id":8}}}"#,
            r#"{"update_id":6,"poll":{"id":"p1","question":"?"}}"#,
            r#"{"update_id":7,"poll":{"id":17}}"#,
            r#"{"update_id":8,"poll_answer":{"poll_id":"p2","user":{"id":3}}}"#,
            r#"{"update_id":9,"future_thing":{"chat":{"id":3}}}"#,
            r#"{"update_id":10,"future_thing":{"from":{"id":4},"user":{"id":5}}}"#,
            r#"{"update_id":11,"future_thing":{"x":1}}"#,
            r#"{"update_id":12}"#,
            r#"{}"#,
            r#"[1,2]"#,
            r#""text""#,
            r#"{"update_id":13.0,"message":{"chat":{"id":5}}}"#,
            r#"{"update_id":"14","message":{"chat":{"id":5}}}"#,
            r#"{"update_id":18446744073709551615,"message":{"chat":{"id":5}}}"#,
            r#"{"update_id":-15,"message":{"chat":{"id":5.5}}}"#,
            r#"{"update_id":16,"message":{"chat":{"id":"5"}}}"#,
            r#"{"update_id":17,"message":{"chat":[{"id":5}]}}"#,
            r#"{"update_id":18,"message":[1,{"chat":{"id":5}}]}"#,
            r#"{"update_id":19,"message":null}"#,
            r#"{"update_id":20,"message":{"chat":{"id":1}},"message":{"chat":{"id":2}}}"#,
            r#"{"update_id":21,"update_id":22,"message":{"chat":{"id":1}}}"#,
            r#"{"update_id":23,"zeta":{"chat":{"id":1}},"alpha":{"from":{"id":2}}}"#,
            r#"{"update_id":24,"message":{"chat":{"id":1,"id":2},"from":{"id":3}}}"#,
            r#"{"update_id":25,"me\u0073sage":{"ch\u0061t":{"\u0069d":6}}}"#,
            r#"{"update_id":26,"message":{"chat":{"id":7},"reply_to_message":{"chat":{"id":8}}}}"#,
            r#"{"update_id":27,"edited_channel_post":{"chat":{"id":-1001},"sender_chat":{"id":1}}}"#,
            r#"{"update_id":28,"inline_query":{"id":"q","from":{"id":12},"query":"x"}}"#,
        ];
        for doc in docs {
            both(doc);
        }
    }

    #[test]
    fn deep_values_nobody_needs_are_skipped() {
        let doc = format!(
            r#"{{"update_id":7,"message":{{"chat":{{"id":5}},"x":{}1{}}}}}"#,
            "[".repeat(5000),
            "]".repeat(5000)
        );
        assert!(
            serde_json::from_str::<Value>(&doc).is_err(),
            "too deep for a tree"
        );
        let head = scan(doc.as_bytes()).unwrap();
        assert_eq!(
            (head.update_id, head.kind.as_str(), head.key.as_str()),
            (Some(7), "message", "c5")
        );
    }

    #[test]
    fn broken_json_is_an_error() {
        for doc in [
            "",
            "{",
            r#"{"update_id":1,}"#,
            r#"{"update_id":1} x"#,
            r#"{"update_id":1,"message":{"chat":{"id":5}}"#,
        ] {
            assert!(scan(doc.as_bytes()).is_err(), "{doc}");
        }
    }
}
