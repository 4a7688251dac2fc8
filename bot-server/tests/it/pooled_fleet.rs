//! Two bot-servers on a pooled URL (a real pgbouncer in session mode in front of the test
//! PostgreSQL, as Supabase's pooler on port 5432), started at the same moment so they migrate
//! the fresh database concurrently through the pooler: each update answered once, each chat
//! in order.

use crate::common;

use std::collections::HashMap;

use common::*;

fn ping(update_id: i64, chat: i64, n: usize) -> String {
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1_700_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "A"},
            "from": {"id": chat, "is_bot": false, "first_name": "A"},
            "text": format!("/ping {chat}-{n}"),
            "entities": [{"offset": 0, "length": 5, "type": "bot_command"}]
        }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_two_bot_servers_on_the_pooled_url() {
    let pg =
        telbot_testkit::PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL test server: {e}"));
    let bouncer = telbot_testkit::PgBouncer::start(&pg, "session", 40)
        .unwrap_or_else(|e| panic!("pgbouncer: {e}"));
    let db = TestDb {
        url: bouncer.url("postgres"),
        dir: tempfile::tempdir().unwrap(),
        pg: None,
    };
    let sim = sim().await;
    let (a, b) = tokio::join!(start_bot(&sim, &db, &[]), start_bot(&sim, &db, &[]));
    let (chats, per_chat) = (10i64, 10usize);
    let bots = [&a, &b];
    let mut uid = 1_000i64;
    for n in 0..per_chat {
        let mut posts = Vec::new();
        for c in 0..chats {
            uid += 1;
            let bot = bots[(uid % 2) as usize];
            let body = ping(uid, 500 + c, n);
            posts.push(async move { post_update(bot, &body, Some(SECRET)).await });
        }
        for code in futures::future::join_all(posts).await {
            assert_eq!(code, 200, "{}", bouncer.log());
        }
    }
    let total = chats as usize * per_chat;
    answered_once(&sim, &[&a, &b], total).await;
    let mut per: HashMap<i64, Vec<usize>> = HashMap::new();
    for s in sim.sent_messages() {
        let n = s
            .text
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap();
        per.entry(s.chat_id).or_default().push(n);
    }
    let want: Vec<usize> = (0..per_chat).collect();
    for (chat, got) in per {
        assert_eq!(got, want, "chat {chat} out of order or incomplete");
    }
    a.stop().await;
    b.stop().await;
}
