//! The fault proxy does what the rows rely on.

use std::time::Duration;

use telbot_chaos::proxy::{Fault, FaultProxy};
use telegram_sim::Sim;

async fn sim() -> Sim {
    Sim::builder()
        .allow_http_loopback(true)
        .start()
        .await
        .unwrap()
}

fn client(timeout_ms: u64) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(timeout_ms))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_and_are_never_forwarded_while_the_fault_lasts() {
    let sim = sim().await;
    let proxy = FaultProxy::start(&sim.base_url()).await.unwrap();
    let url = format!("{}/bot{}/getMe", proxy.url(), sim.token());
    let c = client(300);
    assert!(c.get(&url).send().await.unwrap().status().is_success());
    proxy.set(Fault::Slow(Duration::from_millis(600)));
    for _ in 0..5 {
        let r = c.get(&url).send().await;
        assert!(r.is_err_and(|e| e.is_timeout()));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        sim.calls_to("getMe").len(),
        1,
        "a request whose client left is dropped"
    );
    proxy.heal();
    assert!(c.get(&url).send().await.unwrap().status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_closes_the_port_and_heal_opens_it_again() {
    let sim = sim().await;
    let proxy = FaultProxy::start(&sim.base_url()).await.unwrap();
    let url = format!("{}/bot{}/getMe", proxy.url(), sim.token());
    let c = client(2000);
    assert!(c.get(&url).send().await.unwrap().status().is_success());
    proxy.set(Fault::Refuse);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let e = c.get(&url).send().await.unwrap_err();
    assert!(e.is_connect(), "{e:?}");
    proxy.heal();
    let mut ok = false;
    for _ in 0..50 {
        if c.get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_faults_answer_like_telegram_and_can_target_one_method() {
    let sim = sim().await;
    let proxy = FaultProxy::start(&sim.base_url()).await.unwrap();
    let base = format!("{}/bot{}", proxy.url(), sim.token());
    let c = client(2000);
    proxy.set_for(&["sendMessage"], Fault::TooMany { retry_after: 3 });
    let r = c
        .post(format!("{base}/sendMessage"))
        .json(&serde_json::json!({"chat_id": 1, "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "3");
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["parameters"]["retry_after"], 3);
    assert!(
        c.get(format!("{base}/getMe"))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    proxy.set(Fault::Cycle(vec![Fault::Status(500), Fault::Status(502)]));
    let a = c
        .get(format!("{base}/getMe"))
        .send()
        .await
        .unwrap()
        .status();
    let b = c
        .get(format!("{base}/getMe"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!((a.as_u16(), b.as_u16()), (500, 502));
    assert!(sim.sent_messages().is_empty());
}
