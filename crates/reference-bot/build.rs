//! Lays out `bot-server`'s code in the order of `link-order.txt` in release builds: the
//! functions start-up and the update path run, one after another at the front of `.text`.
//!
//! Why: the kernel maps a binary's code into a process 64 KiB around each page it touches
//! (fault-around), and rustc scatters what start-up runs over most of the 13 MB of code, so an
//! idle bot-server had ~11 MB of its binary resident while running ~4 MB of functions
//! (BENCHMARKS.md, "idle memory"). Grouped, the same functions cost about their own size.
//!
//! The list is made by `bench/link-order.sh` (callgrind of this release build through start-up,
//! updates and idle). A name the build no longer has is skipped by the linker; a stale list
//! only costs memory, never correctness. Only on x86_64 Linux, where rustc links with its
//! bundled LLD (`--symbol-ordering-file` is an LLD option); `TELBOT_LINK_ORDER=off` turns it off
//! (for example with another linker).

fn main() {
    println!("cargo:rerun-if-changed=link-order.txt");
    println!("cargo:rerun-if-env-changed=TELBOT_LINK_ORDER");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let lld_target = std::env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu");
    let off = std::env::var("TELBOT_LINK_ORDER").is_ok_and(|v| v == "off");
    if !(release && lld_target) || off {
        return;
    }
    let Ok(dir) = std::env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    let list = std::path::Path::new(&dir).join("link-order.txt");
    if list.is_file() {
        println!(
            "cargo:rustc-link-arg-bin=bot-server=-Wl,--symbol-ordering-file={}",
            list.display()
        );
        println!("cargo:rustc-link-arg-bin=bot-server=-Wl,--no-warn-symbol-ordering");
    }
}
