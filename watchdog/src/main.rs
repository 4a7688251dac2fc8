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
    // Kept until main returns: dropping it flushes the log file's last lines (`log.dir`).
    let _logs = match telbot_shared::logging::init_for(cli.config.as_deref(), &env, "watchdog") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("watchdog: {e}");
            return ExitCode::from(cli::EXIT_CONFIG);
        }
    };
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
    let code = rt.block_on(cli::execute(cli, env));
    // Stop the runtime's tasks first, so their last lines reach the log file.
    drop(rt);
    ExitCode::from(code)
}
