//! teloxide's REPLs on telbot: [`repl`] for every message, [`commands_repl`] for the commands
//! of a `BotCommands` enum. The handler is teloxide's (`Bot`, `Message`, `Me` and the
//! arguments of a command; `ResponseResult<()>`), the updates come through the inbox.

use std::marker::PhantomData;

use teloxide::RequestError;
use teloxide::dispatching::{HandlerExt, UpdateFilterExt};
use teloxide::dptree;
use teloxide::dptree::di::Injectable;
use teloxide::types::Update;
use teloxide::utils::command::BotCommands;

use crate::config::BotConfig;
use crate::dispatcher::Dispatcher;

/// teloxide's `repl(bot, handler)`: `handler` gets every message. Serves until SIGTERM or
/// SIGINT; exits the process (code 1) if the bot cannot start.
pub async fn repl<H, Args>(cfg: BotConfig, handler: H)
where
    H: Injectable<Result<(), RequestError>, Args> + Send + Sync + 'static,
{
    Dispatcher::builder(cfg, Update::filter_message().endpoint(handler))
        .build()
        .dispatch()
        .await;
}

/// teloxide's `Cmd::repl(bot, handler)`: `handler` gets every message that parses as a `Cmd`
/// (with the command as an argument); other updates are ignored. Pass
/// `PhantomData::<Cmd>` (teloxide 0.17's `BotCommands` has no `ty()`).
pub async fn commands_repl<Cmd, H, Args>(cfg: BotConfig, handler: H, _cmd: PhantomData<Cmd>)
where
    Cmd: BotCommands + Send + Sync + 'static,
    H: Injectable<Result<(), RequestError>, Args> + Send + Sync + 'static,
{
    let tree = Update::filter_message()
        .filter_command::<Cmd>()
        .chain(dptree::endpoint(handler));
    Dispatcher::builder(cfg, tree)
        .default_handler(|_| async {})
        .build()
        .dispatch()
        .await;
}
