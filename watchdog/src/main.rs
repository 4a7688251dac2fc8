//! The `watchdog` binary: parse arguments, set up logging, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use watchdog::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { cli::EXIT_USAGE } else { 0 });
        }
    };
    let env = telbot_shared::config::process_env();
    telbot_shared::logging::init(env.get("LOG_FORMAT").map(String::as_str));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("watchdog: cannot start the runtime: {e}");
            return ExitCode::from(cli::EXIT_UNAVAILABLE);
        }
    };
    ExitCode::from(rt.block_on(cli::execute(cli, env)))
}
