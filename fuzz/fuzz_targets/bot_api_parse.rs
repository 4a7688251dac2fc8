//! The Bot API answers the daemons parse: getWebhookInfo, getMe, getUpdates results.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<telbot_shared::telegram::WebhookInfo>(data);
    let _ = serde_json::from_slice::<telbot_shared::telegram::BotUser>(data);
    let _ = serde_json::from_slice::<Vec<teloxide::types::Update>>(data);
    let _ = serde_json::from_slice::<teloxide::types::Update>(data);
});
