//! The daemon (`Watchdog::run_until_stopped`) on short interval schedules: the scheduled
//! digest and drill run, and a digest that falls due while a run is in flight runs right
//! after it (together with the checks that fell due meanwhile, coalesced), not at its next
//! tick.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use telbot_alerts::{ChannelResult, Message};
use tokio::time::Instant;
use watchdog::Digest;
use watchdog::SystemClock;
use watchdog::Trigger;
use watchdog::WatchdogConfig;
use watchdog::{AlertDecision, Level, RunReport, incident};
use watchdog::{AlertSink, Watchdog};
use watchdog::{BoxFuture, LogSink};

use crate::common::World;
use crate::fake_bot::FakeWorld;

#[derive(Debug, Clone)]
enum Event {
    /// A run's report reached the sink (its name, e.g. `liveness`).
    Run(String),
    /// A drill's report.
    Drill(RunReport),
    /// A digest was made and sent; its subject.
    Digest(String, Instant),
}

/// An alert sink that logs like [`LogSink`] and records what reached it, in order.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
    fn digests(&self) -> usize {
        self.events()
            .iter()
            .filter(|e| matches!(e, Event::Digest(..)))
            .count()
    }
    fn drills(&self) -> Vec<RunReport> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Drill(r) => Some(r),
                _ => None,
            })
            .collect()
    }
    fn push(&self, e: Event) {
        self.events.lock().unwrap().push(e);
    }
}

impl AlertSink for Recorder {
    fn observe<'a>(&'a self, run: &'a RunReport) -> BoxFuture<'a, Vec<AlertDecision>> {
        Box::pin(async move {
            self.push(Event::Run(run.run.clone()));
            LogSink.observe(run).await
        })
    }

    fn report<'a>(&'a self, run: &'a RunReport) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            self.push(Event::Drill(run.clone()));
            vec!["recorder".into()]
        })
    }

    fn digest<'a>(
        &'a self,
        d: &'a Digest,
        send: bool,
    ) -> BoxFuture<'a, (Message, Vec<ChannelResult>)> {
        Box::pin(async move {
            let started = Instant::now();
            let (msg, channels) = LogSink.digest(d, send).await;
            if send {
                self.push(Event::Digest(msg.subject.clone(), started));
            }
            (msg, channels)
        })
    }
}

/// The checks once at start (their first interval tick) and then not for an hour, unless
/// `liveness` says otherwise.
fn schedules(cfg: &mut WatchdogConfig, liveness: Duration) {
    let hour = Duration::from_secs(3600);
    cfg.schedules.liveness = Trigger::Every(liveness);
    cfg.schedules.performance = Trigger::Every(hour);
    cfg.schedules.integration = Trigger::Every(hour);
}

async fn until(what: &str, within: Duration, f: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts the daemon; returns it and its task.
async fn daemon(
    cfg: WatchdogConfig,
    sink: Arc<Recorder>,
) -> (Arc<Watchdog>, tokio::task::JoinHandle<()>) {
    let wd = Arc::new(
        Watchdog::build_with(cfg, Arc::new(SystemClock), sink)
            .await
            .unwrap(),
    );
    let task = tokio::spawn({
        let wd = wd.clone();
        async move { wd.run_until_stopped().await.unwrap() }
    });
    (wd, task)
}

async fn stop(wd: &Watchdog, task: tokio::task::JoinHandle<()>) {
    wd.stop_token().cancel();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the daemon stops with its token")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_sends_the_scheduled_digest_and_runs_the_scheduled_drill() {
    let w = World::start().await;
    let mut cfg = WatchdogConfig::load(None, &w.env).unwrap();
    schedules(&mut cfg, Duration::from_secs(3600));
    cfg.schedules.drill = Some(Trigger::Every(Duration::from_secs(3)));
    cfg.schedules.digest = Some(Trigger::Every(Duration::from_secs(1)));
    let sink = Arc::new(Recorder::default());
    let (wd, task) = daemon(cfg, sink.clone()).await;
    until("a drill and two digests", Duration::from_secs(60), || {
        !sink.drills().is_empty() && sink.digests() >= 2
    })
    .await;
    stop(&wd, task).await;

    let drill = &sink.drills()[0];
    assert_eq!(drill.run, "drill");
    let f = drill.finding(incident::RECOVERY_DRILL).unwrap();
    assert_eq!(f.level, Level::Ok, "{f:#?}");
    assert!(f.reason.starts_with("drill passed"), "{}", f.reason);
    assert_eq!(
        w.sim.webhook_info()["url"],
        format!("{}/webhook", w.bot.url),
        "the drill set the webhook again"
    );
    for e in sink.events() {
        if let Event::Digest(subject, _) = e {
            assert!(
                subject.starts_with("[DIGEST] telbot: daily check"),
                "{subject}"
            );
        }
    }
}

/// Liveness every second, the digest every 3 s, and the bot's second `/health` held until
/// 4 s after the start: the digest due at 3 s falls during that run. It runs as soon as the
/// run ends, together with one liveness run for the three liveness ticks that fell due
/// meanwhile, before the digest's next tick (6 s) — which is when it would run if the tick
/// were dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_due_during_a_long_run_runs_right_after_it() {
    let mut w = FakeWorld::start().await;
    // The held probe must not time out: the run lasts as long as the test holds it.
    w.env
        .insert("TELBOT__WATCHDOG__HTTP_TIMEOUT".into(), "30s".into());
    w.bot.set(|a| a.hold_from = Some(1));
    let mut cfg = WatchdogConfig::load(None, &w.env).unwrap();
    schedules(&mut cfg, Duration::from_secs(1));
    let period = Duration::from_secs(3);
    cfg.schedules.digest = Some(Trigger::Every(period));
    let sink = Arc::new(Recorder::default());
    let t0 = Instant::now();
    let (wd, task) = daemon(cfg, sink.clone()).await;

    until(
        "the second /health to be held",
        Duration::from_secs(20),
        || w.bot.get(|a| a.held) == 1,
    )
    .await;
    assert!(
        t0.elapsed() < period,
        "precondition: the held run began before the digest's second tick ({:?})",
        t0.elapsed()
    );
    let before = sink.digests();
    tokio::time::sleep_until(t0 + period + Duration::from_secs(1)).await;
    assert_eq!(
        sink.digests(),
        before,
        "nothing runs beside the run in flight"
    );
    let held_events = sink.events().len();
    w.bot.release();
    until(
        "the digest that fell due during the run",
        Duration::from_secs(20),
        || sink.digests() > before,
    )
    .await;
    let after: Vec<Event> = sink.events()[held_events..].to_vec();
    stop(&wd, task).await;

    let Some(Event::Digest(_, at)) = after.iter().find(|e| matches!(e, Event::Digest(..))) else {
        panic!("no digest in {after:?}")
    };
    assert!(
        *at < t0 + 2 * period,
        "the digest ran at {:?}, not before its next tick: the tick during the run was lost",
        *at - t0
    );
    let runs: Vec<&str> = after
        .iter()
        .take_while(|e| !matches!(e, Event::Digest(..)))
        .filter_map(|e| match e {
            Event::Run(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        runs,
        ["liveness", "liveness"],
        "the held run, then one run for the liveness ticks during it"
    );
}
