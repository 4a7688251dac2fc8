//! `telbot-chaos`: runs the chaos rows and prints the table; exits 1 if any row fails.
//!
//! `cargo run -p telbot-chaos -- --full` (the durations), `--short` (a tenth),
//! `--rows a,b` to pick rows, `--list` to list them.

use std::process::ExitCode;

use clap::Parser;
use telbot_chaos::{Variant, rows, runner, table};

/// The chaos suite: one fault per row under load against the real binaries.
#[derive(Debug, Parser)]
#[command(name = "telbot-chaos")]
struct Args {
    /// The long variant (the durations the issue names). Default.
    #[arg(long, conflicts_with = "short")]
    full: bool,
    /// The short variant (durations a tenth, a smaller load), as CI runs it.
    #[arg(long)]
    short: bool,
    /// Comma-separated row names (default: all).
    #[arg(long, value_delimiter = ',')]
    rows: Vec<String>,
    /// List the rows and exit.
    #[arg(long)]
    list: bool,
    /// Print the daemons' last log lines of failed rows.
    #[arg(long)]
    logs: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHAOS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    if args.list {
        for r in rows::ROWS {
            println!(
                "{:<22} {}{}",
                r.name,
                r.title,
                if r.critical { " [critical]" } else { "" }
            );
        }
        return ExitCode::SUCCESS;
    }
    let v = if args.short {
        Variant::Short
    } else {
        Variant::Full
    };
    let mut picked = Vec::new();
    if args.rows.is_empty() {
        picked.extend(rows::ROWS.iter());
    } else {
        for name in &args.rows {
            match rows::by_name(name) {
                Some(r) => picked.push(r),
                None => {
                    eprintln!("unknown row {name:?}; --list shows them");
                    return ExitCode::from(64);
                }
            }
        }
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(70);
        }
    };
    let mut results = Vec::new();
    let mut errors = 0;
    for row in picked {
        eprintln!("== {} ({})", row.name, row.title);
        match rt.block_on(runner::run_row(row, v)) {
            Ok(r) => {
                if args.logs
                    && let Some(l) = &r.logs
                {
                    eprintln!("{l}");
                }
                eprintln!("   {}", if r.passed() { "PASS" } else { "FAIL" });
                results.push(r);
            }
            Err(e) => {
                eprintln!("   ERROR: {e}");
                errors += 1;
            }
        }
    }
    println!("{}", table::render(&results, v));
    if errors > 0 || results.iter().any(|r| !r.passed()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
