//! The schedule: cron validation, and the worker's merging, coalescing and lateness, with
//! paused time.
use super::*;

#[test]
fn five_field_cron_is_refused_with_the_key() {
    let e = Trigger::cron("*/5 * * * *", "watchdog.schedule.liveness")
        .err()
        .map(|e| e.to_string());
    assert!(
        e.as_deref()
            .is_some_and(|m| m.contains("watchdog.schedule.liveness") && m.contains("seconds")),
        "{e:?}"
    );
    assert!(Trigger::cron("*/30 * * * * *", "k").is_ok());
    assert!(Trigger::cron("*/30 * * * * x", "k").is_err());
}

/// Runs `worker` with a run that lasts 5 s and, the first time only, ticks liveness
/// (five times) and the digest (three times) while it is in flight; returns every set run.
async fn serve_with_ticks_during_the_first_run(first: &[RunKind]) -> Vec<RunSet> {
    let (ticker, worker) = channel();
    let stop = CancellationToken::new();
    let runs = Arc::new(Mutex::new(Vec::new()));
    let r = runs.clone();
    let t2 = ticker.clone();
    let handle = tokio::spawn(worker.serve(stop.clone(), move |set| {
        let r = r.clone();
        let t2 = t2.clone();
        async move {
            let first_run = r
                .lock()
                .map(|mut v| {
                    v.push(set);
                    v.len() == 1
                })
                .unwrap_or(false);
            for i in 0..5 {
                if first_run {
                    t2.tick(RunKind::Liveness);
                    if i % 2 == 0 {
                        t2.tick(RunKind::Digest);
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }));
    for k in first {
        ticker.tick(*k);
    }
    tokio::time::sleep(Duration::from_secs(60)).await;
    stop.cancel();
    let _ = handle.await;
    runs.lock().map(|v| v.clone()).unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn ticks_during_a_run_coalesce_into_one_run_after_it() {
    let runs =
        serve_with_ticks_during_the_first_run(&[RunKind::Liveness, RunKind::Integration]).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    // Simultaneous requests merge into one pass.
    assert!(runs[0].integration && runs[0].liveness && !runs[0].digest);
    // Five liveness ticks and three digest ticks during it: one pass afterwards with both,
    // and nothing twice.
    let want = RunSet {
        liveness: true,
        digest: true,
        ..RunSet::default()
    };
    assert_eq!(runs[1], want, "{runs:?}");
}

#[tokio::test(start_paused = true)]
async fn a_digest_that_waited_for_a_run_is_late_by_the_wait() {
    let (ticker, worker) = channel();
    ticker.tick(RunKind::Liveness);
    let (set, late) = worker.take().unwrap_or_default();
    assert!(set.liveness && late.is_empty(), "{set:?} {late:?}");
    // The liveness run is in flight: the digest and a drill fall due, 3 s and 1 s before
    // it ends; a liveness tick too (never reported as late).
    ticker.tick(RunKind::Digest);
    tokio::time::advance(Duration::from_secs(2)).await;
    ticker.tick(RunKind::Drill);
    ticker.tick(RunKind::Liveness);
    tokio::time::advance(Duration::from_secs(1)).await;
    worker.shared.queue().busy = false;
    let (set, late) = worker.take().unwrap_or_default();
    assert!(set.digest && set.drill && set.liveness, "{set:?}");
    assert_eq!(
        late,
        vec![
            (RunKind::Drill, Duration::from_secs(1)),
            (RunKind::Digest, Duration::from_secs(3)),
        ]
    );
    // Nothing is left to run twice; a tick while idle is not late.
    assert!(worker.take().is_none());
    worker.shared.queue().busy = false;
    ticker.tick(RunKind::Digest);
    let (_, late) = worker.take().unwrap_or_default();
    assert!(late.is_empty(), "{late:?}");
}
