//! The update kinds a handler tree handles, as teloxide's own dispatcher computes them for
//! its listener (`handler.description().allowed_updates()`, which teloxide keeps private):
//! read from the description's `observed` set. A tree with an unfiltered endpoint observes
//! every kind, as in teloxide.

use teloxide::dispatching::UpdateHandler;
use teloxide::types::AllowedUpdate;

/// Every kind teloxide's dispatcher knows (its `EventKind::full_set`).
const ALL: [AllowedUpdate; 23] = {
    use AllowedUpdate::*;
    [
        Message,
        EditedMessage,
        ChannelPost,
        EditedChannelPost,
        BusinessConnection,
        BusinessMessage,
        EditedBusinessMessage,
        DeletedBusinessMessages,
        MessageReaction,
        MessageReactionCount,
        InlineQuery,
        ChosenInlineResult,
        CallbackQuery,
        ShippingQuery,
        PreCheckoutQuery,
        PurchasedPaidMedia,
        Poll,
        PollAnswer,
        MyChatMember,
        ChatMember,
        ChatJoinRequest,
        ChatBoost,
        RemovedChatBoost,
    ]
};

/// The Bot API names (`message`, `inline_query`, …) of the kinds `tree` handles, sorted.
pub(crate) fn of_tree<E: 'static>(tree: &UpdateHandler<E>) -> Vec<String> {
    let description = format!("{:?}", tree.description());
    let observed = observed_set(&description);
    let mut names: Vec<String> = ALL
        .iter()
        .filter(|k| observed.iter().any(|o| *o == format!("{k:?}")))
        .filter_map(|k| match serde_json::to_value(k) {
            Ok(serde_json::Value::String(s)) => Some(s),
            _ => None,
        })
        .collect();
    names.sort();
    names
}

/// The variant names in `observed: {Kind(Message), Kind(InlineQuery)}` of the description's
/// `Debug`.
fn observed_set(description: &str) -> Vec<&str> {
    let Some(start) = description.find("observed: {") else {
        return Vec::new();
    };
    let rest = &description[start + "observed: {".len()..];
    let set = &rest[..rest.find('}').unwrap_or(rest.len())];
    set.split(',')
        .filter_map(|k| {
            k.trim()
                .strip_prefix("Kind(")
                .and_then(|k| k.strip_suffix(')'))
        })
        .collect()
}

/// The kinds Telegram leaves out when `allowed_updates` is empty (its default).
const NOT_BY_DEFAULT: [&str; 3] = ["chat_member", "message_reaction", "message_reaction_count"];

/// `configured` plus what `tree` handles, and a warning for each kind the configuration
/// leaves out that the tree handles (they are registered anyway: Telegram would not send them).
/// An empty list is Telegram's default (every kind but three) and stays empty unless the tree
/// handles one of those three.
pub(crate) fn union(configured: &[String], handled: &[String]) -> (Vec<String>, Vec<String>) {
    if configured.is_empty() {
        let extra: Vec<&String> = handled
            .iter()
            .filter(|k| NOT_BY_DEFAULT.contains(&k.as_str()))
            .collect();
        if extra.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let mut all: Vec<String> = ALL
            .iter()
            .filter_map(|k| match serde_json::to_value(k) {
                Ok(serde_json::Value::String(s)) => Some(s),
                _ => None,
            })
            .filter(|k| !NOT_BY_DEFAULT.contains(&k.as_str()))
            .collect();
        all.extend(extra.into_iter().cloned());
        return (all, Vec::new());
    }
    let mut all = configured.to_vec();
    let mut warnings = Vec::new();
    let missing: Vec<&String> = handled.iter().filter(|k| !configured.contains(k)).collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        warnings.push(format!(
            "webhook.allowed_updates ({}) leaves out {}, which the handler tree handles; \
             registering them too, or Telegram would never send them",
            configured.join(", "),
            names.join(", ")
        ));
    }
    all.extend(missing.into_iter().cloned());
    (all, warnings)
}

#[cfg(test)]
mod tests {
    use teloxide::dispatching::UpdateFilterExt;
    use teloxide::prelude::*;

    use super::*;

    type Tree = UpdateHandler<Box<dyn std::error::Error + Send + Sync>>;

    async fn ok() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(())
    }

    #[test]
    fn the_kinds_a_tree_filters_for() {
        let tree: Tree = dptree::entry()
            .branch(Update::filter_message().endpoint(ok))
            .branch(Update::filter_inline_query().endpoint(ok))
            .branch(Update::filter_pre_checkout_query().endpoint(ok));
        assert_eq!(
            of_tree(&tree),
            ["inline_query", "message", "pre_checkout_query"]
        );
    }

    #[test]
    fn an_unfiltered_endpoint_handles_every_kind() {
        let tree: Tree = dptree::entry().endpoint(ok);
        let all = of_tree(&tree);
        assert_eq!(all.len(), ALL.len(), "{all:?}");
        assert!(all.contains(&"chat_member".to_string()));
    }

    #[test]
    fn the_union_names_what_the_configuration_left_out() {
        let configured = vec!["message".to_string(), "callback_query".to_string()];
        let handled = vec!["inline_query".to_string(), "message".to_string()];
        let (all, warnings) = union(&configured, &handled);
        assert_eq!(all, ["message", "callback_query", "inline_query"]);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("leaves out inline_query"),
            "{}",
            warnings[0]
        );
        let (all, warnings) = union(&handled, &handled);
        assert_eq!((all, warnings.len()), (handled.clone(), 0));
        // Empty is Telegram's default set; it grows only for a kind Telegram leaves out.
        assert!(union(&[], &handled).0.is_empty());
        let (all, _) = union(&[], &["chat_member".to_string()]);
        assert!(all.contains(&"chat_member".to_string()) && all.contains(&"message".to_string()));
        assert!(!all.contains(&"message_reaction".to_string()));
    }
}
