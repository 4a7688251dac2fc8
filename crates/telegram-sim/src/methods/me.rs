//! getMe (the bot's user object for `from` is `Config::bot_user`).

use crate::api::ApiOk;
use crate::state::Config;

/// getMe: every field teloxide 0.17's `Me` requires.
pub(crate) fn get_me(config: &Config) -> ApiOk {
    ApiOk::raw(format!(
        "{{\"id\":{},\"is_bot\":true,\"first_name\":\"Sim Bot\",\"username\":\"sim_test_bot\",\
         \"can_join_groups\":true,\"can_read_all_group_messages\":false,\
         \"supports_inline_queries\":false,\"can_connect_to_business\":false,\
         \"has_main_web_app\":false}}",
        config.bot_id()
    ))
}
