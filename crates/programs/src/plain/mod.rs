//! The eight programs as a plain teloxide 0.17 user writes them (compiled, never run by the tests).

pub mod commands_repl;
pub mod dialogue;
pub mod dice;
pub mod dispatcher;
pub mod inline;
pub mod middlewares;
pub mod repl;
pub mod shared_state;
