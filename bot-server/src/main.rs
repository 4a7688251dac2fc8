//! `bot-server`: parses arguments, loads config, wires the app, waits for signals.

use std::path::PathBuf;

use bot_server::{App, BotConfig, EXIT_CONFIG, EXIT_MEMORY_LIMIT, EXIT_START, Exit};
use clap::Parser;

/// mimalloc instead of glibc's malloc: allocation was a fifth of the instructions per update
/// (callgrind, BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The telbot bot server: a Telegram bot with a durable inbox, health and metrics.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// A TOML file layered over the compiled-in defaults (also TELBOT_CONFIG).
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    let env = telbot_shared::config::process_env();
    telbot_shared::logging::init(env.get("LOG_FORMAT").map(String::as_str));
    let cfg = match BotConfig::load(args.config.as_deref(), &env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bot-server: {e}");
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
            std::process::exit(EXIT_START);
        }
    };
    let code = rt.block_on(async move {
        let app = match App::build(cfg).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!("cannot start: {e}");
                return EXIT_START;
            }
        };
        let token = app.shutdown_token();
        tokio::spawn(async move {
            telbot_shared::signal::shutdown().await;
            tracing::info!("signal received");
            token.cancel();
        });
        match app.run_until_stopped().await {
            Exit::Shutdown => 0,
            Exit::MemoryLimit => EXIT_MEMORY_LIMIT,
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    std::process::exit(code);
}
