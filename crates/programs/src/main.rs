//! `telbot-programs <name>`: runs one of eight teloxide programs hosted on bot-server
//! (`src/telbot/<name>.rs`); `telbot-programs plain <name>` runs the same program as plain
//! teloxide (`src/plain/<name>.rs`, against the real Telegram with `TELOXIDE_TOKEN`). One
//! binary, so CI links once instead of eight times.
//!
//! Each `telbot/<name>.rs` is its `plain/<name>.rs` with only the changes the README's
//! "Move an existing teloxide bot" documents; `tests/conversations.rs` checks that line by
//! line and runs every hosted program against telegram-sim.

pub mod plain;
pub mod telbot;

/// One program: the name `argv[1]` gives, and its two `main`s.
struct Program {
    name: &'static str,
    plain: fn(),
    telbot: fn(),
}

/// The eight programs.
const PROGRAMS: &[Program] = &[
    Program {
        name: "repl",
        plain: plain::repl::main,
        telbot: telbot::repl::main,
    },
    Program {
        name: "commands_repl",
        plain: plain::commands_repl::main,
        telbot: telbot::commands_repl::main,
    },
    Program {
        name: "dispatcher",
        plain: plain::dispatcher::main,
        telbot: telbot::dispatcher::main,
    },
    Program {
        name: "shared_state",
        plain: plain::shared_state::main,
        telbot: telbot::shared_state::main,
    },
    Program {
        name: "middlewares",
        plain: plain::middlewares::main,
        telbot: telbot::middlewares::main,
    },
    Program {
        name: "inline",
        plain: plain::inline::main,
        telbot: telbot::inline::main,
    },
    Program {
        name: "dialogue",
        plain: plain::dialogue::main,
        telbot: telbot::dialogue::main,
    },
    Program {
        name: "dice",
        plain: plain::dice::main,
        telbot: telbot::dice::main,
    },
];

fn usage() -> ! {
    let names: Vec<&str> = PROGRAMS.iter().map(|p| p.name).collect();
    eprintln!(
        "usage: telbot-programs [plain] <program>\nprograms: {}",
        names.join(", ")
    );
    std::process::exit(64);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (plain, name) = match args.as_slice() {
        [name] => (false, name),
        [p, name] if p == "plain" => (true, name),
        _ => usage(),
    };
    let Some(program) = PROGRAMS.iter().find(|p| p.name == name) else {
        usage()
    };
    if plain {
        (program.plain)()
    } else {
        (program.telbot)()
    }
}
