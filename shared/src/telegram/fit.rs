//! What fits in a webhook answer: Telegram runs the answer's method and tells nobody when it
//! refuses it, so a reply is held for the answer only if its lengths are within Telegram's
//! limits (see [`super::reply`]).

/// Longest `text` Telegram accepts (sendMessage, editMessageText), in UTF-16 code units.
pub const MAX_TEXT: usize = 4096;
/// Longest media `caption`.
pub const MAX_CAPTION: usize = 1024;
/// Longest `text` of answerCallbackQuery.
pub const MAX_CALLBACK_TEXT: usize = 200;

/// Whether Telegram would accept the parameters' `text` / `caption` by length (counted in
/// UTF-16 code units, as Telegram does; markup only shortens a text, so a raw text within the
/// limit always fits). A call that may not fit is not held for a webhook answer.
pub fn fits_in_answer(method: &str, params: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Lengths {
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        caption: Option<String>,
    }
    let Ok(l) = serde_json::from_slice::<Lengths>(params) else {
        // Not an object with string fields: let the normal request path judge it.
        return false;
    };
    let len = |s: &Option<String>| s.as_deref().map_or(0, |s| s.encode_utf16().count());
    let text_max = if method.eq_ignore_ascii_case("answerCallbackQuery") {
        MAX_CALLBACK_TEXT
    } else {
        MAX_TEXT
    };
    len(&l.text) <= text_max && len(&l.caption) <= MAX_CAPTION
}
