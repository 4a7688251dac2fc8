//! `telegram-sim`: run the offline Bot API server until SIGINT/SIGTERM.
//!
//! `telegram-sim --port 8081 [--token T] [--allow-http-loopback] [--time-scale 0.01]`

use anyhow::Context;
use clap::Parser;
use telegram_sim::{DEFAULT_TOKEN, Sim};

/// Offline Telegram Bot API server with fault injection (control API under /_sim/).
#[derive(Debug, Parser)]
#[command(name = "telegram-sim", version)]
struct Args {
    /// Port on 127.0.0.1 (0 = pick a free one).
    #[arg(long, default_value_t = 8081)]
    port: u16,
    /// The only token the sim accepts.
    #[arg(long, default_value = DEFAULT_TOKEN)]
    token: String,
    /// Accept and deliver to http:// webhooks on loopback hosts.
    #[arg(long)]
    allow_http_loopback: bool,
    /// Multiply Telegram's delays (back-off, timeouts) by this factor.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Disable the one-setWebhook-per-second limit.
    #[arg(long)]
    no_set_webhook_rate_limit: bool,
}

async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let sim = Sim::builder()
        .port(args.port)
        .token(args.token)
        .allow_http_loopback(args.allow_http_loopback)
        .time_scale(args.time_scale)
        .set_webhook_rate_limit(!args.no_set_webhook_rate_limit)
        .start()
        .await
        .context("starting telegram-sim")?;
    println!("telegram-sim listening on {}", sim.base_url());
    shutdown_signal().await?;
    sim.shutdown();
    Ok(())
}
