//! `bot-server`: the reference bot on telbot. Parses arguments, loads the settings (a bad
//! one: exit 78), runs until SIGTERM/SIGINT/`POST /shutdown` (0), or exits 1 when it cannot
//! start and 3 past the RSS limit.

use std::path::PathBuf;

use bot_server::{BotConfig, EXIT_CONFIG, EXIT_MEMORY_LIMIT, EXIT_START, Exit};
use clap::Parser;

/// mimalloc instead of glibc's malloc: allocation was a fifth of the instructions per update
/// (callgrind, BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The telbot bot server: a Telegram bot with a durable inbox, health and metrics.
#[derive(Parser, Debug)]
#[command(name = "bot-server", version, about, long_about = None)]
struct Args {
    /// A TOML file layered over the compiled-in defaults (also TELBOT_CONFIG).
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    let env = telbot_shared::config::process_env();
    let file = args.config.as_deref();
    // Kept until exit: dropping it flushes the log file's last lines (`log.dir`).
    let logs = match telbot_shared::logging::init_for(file, &env, "bot") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("bot-server: {e}");
            std::process::exit(EXIT_CONFIG);
        }
    };
    let program = match BotConfig::load(file, &env)
        .and_then(|cfg| telbot_reference_bot::program(cfg, file, &env))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("bot-server: {e}");
            logs.finish();
            std::process::exit(EXIT_CONFIG);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bot-server: cannot start the runtime: {e}");
            logs.finish();
            std::process::exit(EXIT_START);
        }
    };
    let code = rt.block_on(async move {
        match program.start().await {
            Ok(app) => match app.dispatch().await {
                Exit::Shutdown => 0,
                Exit::MemoryLimit => EXIT_MEMORY_LIMIT,
            },
            Err(e) => {
                tracing::error!("cannot start: {e}");
                EXIT_START
            }
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    // `exit` runs no destructors: flush the log file first.
    logs.finish();
    std::process::exit(code);
}
