//! The eight programs with only the documented changes that host them on bot-server (`plain/` is the original).

pub mod commands_repl;
pub mod dialogue;
pub mod dice;
pub mod dispatcher;
pub mod inline;
pub mod middlewares;
pub mod repl;
pub mod shared_state;
