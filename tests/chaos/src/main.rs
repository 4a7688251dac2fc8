//! `telbot-chaos`: runs the chaos rows and prints the table; exits 1 if any row fails.
//!
//! `cargo run -p telbot-chaos -- --full` (the durations), `--short` (a tenth),
//! `--rows a,b` to pick rows, `--list` to list them; `--soak [--minutes N]` the soak (a fault
//! every minute, default 10 minutes), `--soak --short --minutes 1` its CI form;
//! `--fleet-bench [--instances 1,2,3] [--burst 3000] [--rate 200] [--pg-rtt-ms 0.5]` the scaling figures
//! (build with `--release`; `FLEET_BOT_SERVER=path` runs another bot-server build).

use std::process::ExitCode;

use clap::Parser;
use telbot_chaos::{Variant, rows, runner, soak, table};

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
    /// The soak instead of the rows: one stack, the load all along, a fault every minute
    /// (with --short: the whole rotation every minute, the short load), bot-server's RSS.
    #[arg(long, conflicts_with_all = ["rows", "list"])]
    soak: bool,
    /// Minutes the soak runs.
    #[arg(long, default_value_t = 10, requires = "soak", value_parser = clap::value_parser!(u32).range(1..=1440))]
    minutes: u32,
    /// The fleet benchmark instead of the rows: processed/s and latency of 1, 2, 3…
    /// bot-servers on PostgreSQL behind haproxy, and one on SQLite.
    #[arg(long, conflicts_with_all = ["rows", "list", "soak"])]
    fleet_bench: bool,
    /// Instance counts the fleet benchmark measures on PostgreSQL.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2,3",
        requires = "fleet_bench"
    )]
    instances: Vec<usize>,
    /// Updates of the fleet benchmark's burst.
    #[arg(long, default_value_t = 3000, requires = "fleet_bench")]
    burst: usize,
    /// Updates per second of the fleet benchmark's latency run (5 s).
    #[arg(long, default_value_t = 200, requires = "fleet_bench")]
    rate: u32,
    /// The fleet benchmark's PostgreSQL "on another host": this many milliseconds of round
    /// trip away, through a relay that delays each direction by half (this machine's kernel
    /// has no `tc netem`). Leaves out the SQLite row.
    #[arg(long, requires = "fleet_bench", value_parser = rtt_ms)]
    pg_rtt_ms: Option<u32>,
}

/// Milliseconds (e.g. `0.5`) as whole microseconds, 0-1000 ms.
fn rtt_ms(s: &str) -> Result<u32, String> {
    let ms: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of milliseconds"))?;
    if !(0.0..=1000.0).contains(&ms) {
        return Err(format!("{ms} ms is outside 0-1000"));
    }
    Ok((ms * 1000.0).round() as u32)
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
    if args.soak {
        return soak(&args);
    }
    if args.fleet_bench {
        return fleet_bench(&args);
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
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
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

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("cannot start the runtime: {e}");
            ExitCode::from(70)
        })
}

/// `--soak [--minutes N] [--short]`: prints the report and the JSON line; 1 if it failed.
fn soak(args: &Args) -> ExitCode {
    let spec = if args.short {
        soak::SoakSpec::short(args.minutes)
    } else {
        soak::SoakSpec::full(args.minutes)
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    eprintln!(
        "== soak: {} min, a fault every {:.1} s",
        spec.minutes,
        spec.period.as_secs_f64()
    );
    match rt.block_on(soak::run(&spec)) {
        Ok(r) => {
            if args.logs
                && let Some(l) = &r.logs
            {
                eprintln!("{l}");
            }
            println!("{}", r.report());
            if r.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("soak: ERROR: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--fleet-bench`: prints the table; 1 if a configuration could not be measured.
fn fleet_bench(args: &Args) -> ExitCode {
    let spec = telbot_chaos::fleet_bench::BenchSpec {
        instances: args.instances.clone(),
        sqlite: args.pg_rtt_ms.is_none(),
        pg_rtt_us: args.pg_rtt_ms,
        burst: args.burst,
        rate: args.rate,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(telbot_chaos::fleet_bench::run(&spec)) {
        Ok(rows) => {
            println!("{}", telbot_chaos::fleet_bench::table(&rows));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fleet-bench: ERROR: {e}");
            ExitCode::FAILURE
        }
    }
}
