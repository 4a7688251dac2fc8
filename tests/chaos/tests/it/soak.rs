//! The soak's short variant (CI): one minute, the whole fault rotation once (a fault every
//! ~7 s) under the short load; nothing lost, nothing answered twice, no order violations. The
//! RSS criterion is judged only by the long run (`cargo run --release -p telbot-chaos --
//! --soak`). Runs in the nextest `chaos` group (one at a time).

use telbot_chaos::soak::{self, SoakSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_short() {
    let r = soak::run(&SoakSpec::short(1))
        .await
        .unwrap_or_else(|e| panic!("soak: {e}"));
    println!("{}", r.report());
    assert_eq!(r.faults.len(), soak::ROTATION.len(), "every fault ran once");
    assert!(r.tally.sent > 0 && r.tally.answered == r.tally.sent);
    assert!(
        r.passed(),
        "{}\n{}",
        r.failures.join("; "),
        r.logs.unwrap_or_default()
    );
}
