//! `telbot-demo`: starts the whole system on loopback, plays a scripted webhook incident,
//! prints a closing report, then serves until Ctrl-C (or exits with `--once`).

use std::process::ExitCode;

use clap::Parser;
use telbot_demo::script::{self, Narrator};
use telbot_demo::stack::{EMAIL_TO, Stack};

/// telbot's demo: telegram-sim, a mail catcher, bot-server and the watchdog in one process,
/// on 127.0.0.1, playing a webhook incident end to end.
#[derive(Debug, Parser)]
#[command(name = "telbot-demo", version)]
struct Args {
    /// Exit after the closing report instead of serving until Ctrl-C.
    #[arg(long)]
    once: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("telbot-demo: cannot start the runtime: {e}");
            return ExitCode::from(70);
        }
    };
    match rt.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("telbot-demo: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let say = Narrator::new();
    say.say(
        "starting telegram-sim, a mail catcher, bot-server (SQLite) and the watchdog on 127.0.0.1",
    );
    let stack = Stack::start().await?;
    say.say(format!("telegram-sim (Bot API)  {}", stack.sim.base_url()));
    say.say(format!(
        "mail catcher (SMTP)     {}",
        stack.catcher.smtp_url()
    ));
    say.say(format!("bot-server              {}", stack.bot_url));
    say.say(format!("dashboard               {}", stack.dashboard_url()));
    say.say(format!("admin token             {}", stack.admin_token));
    say.say(format!(
        "  (open the dashboard with any user name and the admin token as password, or: curl -H 'Authorization: Bearer {}' {})",
        stack.admin_token,
        stack.dashboard_url()
    ));
    say.say(format!(
        "watchdog                every 1 s, alerts e-mailed to {EMAIL_TO}"
    ));
    let result = script::play(&stack, say).await;
    let ok = match result {
        Ok(report) => {
            print!("{}", report.human());
            println!("{}", report.machine_line());
            report.ok
        }
        Err(e) => {
            stack.shutdown().await;
            return Err(e);
        }
    };
    if !args.once {
        say.say(format!(
            "still serving: dashboard {} (admin token {}); Ctrl-C to stop",
            stack.dashboard_url(),
            stack.admin_token
        ));
        let sim = stack.sim.base_url();
        say.say(format!(
            "  a user writes:      curl -d '{{\"kind\":\"text\",\"chat_id\":7,\"text\":\"hi\"}}' {sim}/_sim/inject"
        ));
        say.say(format!(
            "  break the webhook:  curl -d '{{\"status\":500}}' {sim}/_sim/webhook/break   (heal: -X POST {sim}/_sim/webhook/heal)"
        ));
        telbot_shared::signal::shutdown().await;
        say.say("stopping");
    }
    stack.shutdown().await;
    Ok(ok)
}
