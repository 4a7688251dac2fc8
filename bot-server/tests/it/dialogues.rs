//! `TelbotStorage`: teloxide dialogues in the store, on SQLite and PostgreSQL, through
//! teloxide's own `Dialogue` API; a dialogue outlives the process that wrote it.

use std::time::Duration;

use bot_server::bot::storage::{StorageError, TelbotStorage};
use serde::{Deserialize, Serialize};
use telbot_shared::config::{Backend as StoreBackend, StoreConfig};
use teloxide::dispatching::dialogue::{Dialogue, Storage};
use teloxide::types::ChatId;

use crate::common::{Backend, TestDb};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
enum Form {
    #[default]
    Start,
    ReceiveAge {
        name: String,
    },
    ReceiveLocation {
        name: String,
        age: u8,
    },
}

async fn open(db: &TestDb, backend: Backend) -> telbot_shared::store::Db {
    let cfg = StoreConfig {
        url: db.url.clone().into(),
        backup_dir: std::path::PathBuf::new(),
        backup_keep: 1,
        backup_max_age: std::time::Duration::from_secs(3600),
        migrate_url: None,
        read_url: None,
        backend: match backend {
            Backend::Sqlite => StoreBackend::Sqlite,
            Backend::Postgres => StoreBackend::Postgres,
        },
        data_dir: db.dir.path().to_path_buf(),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(5),
        sqlite_synchronous: "full".into(),
    };
    telbot_shared::store::connect(&cfg).await.unwrap()
}

async fn a_dialogue_survives_a_new_connection(backend: Backend) {
    let db = TestDb::new(backend);
    let chat = ChatId(42);
    {
        let storage = TelbotStorage::new(open(&db, backend).await);
        let d: Dialogue<Form, TelbotStorage> = Dialogue::new(storage.clone(), chat);
        assert_eq!(d.get().await.unwrap(), None, "no dialogue yet");
        d.update(Form::ReceiveAge { name: "Ada".into() })
            .await
            .unwrap();
        d.update(Form::ReceiveLocation {
            name: "Ada".into(),
            age: 36,
        })
        .await
        .unwrap();
        let other: Dialogue<Form, TelbotStorage> = Dialogue::new(storage, ChatId(7));
        other.update(Form::Start).await.unwrap();
    }
    // A restarted bot-server (another pool on the same store) finds it where it was.
    let storage = TelbotStorage::new(open(&db, backend).await);
    let d: Dialogue<Form, TelbotStorage> = Dialogue::new(storage.clone(), chat);
    assert_eq!(
        d.get().await.unwrap(),
        Some(Form::ReceiveLocation {
            name: "Ada".into(),
            age: 36
        })
    );
    assert_eq!(storage.count().await.unwrap(), 2);
    d.exit().await.unwrap();
    assert_eq!(d.get().await.unwrap(), None);
    let again = <TelbotStorage as Storage<Form>>::remove_dialogue(storage.clone(), chat).await;
    assert!(
        matches!(again, Err(StorageError::DialogueNotFound)),
        "{again:?}"
    );
    let still: Dialogue<Form, TelbotStorage> = Dialogue::new(storage, ChatId(7));
    assert_eq!(
        still.get().await.unwrap(),
        Some(Form::Start),
        "other chats untouched"
    );
}

#[tokio::test]
async fn sqlite_a_dialogue_survives_a_restart() {
    a_dialogue_survives_a_new_connection(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_dialogue_survives_a_restart() {
    a_dialogue_survives_a_new_connection(Backend::Postgres).await;
}

#[tokio::test]
async fn an_expired_dialogue_is_gone_and_swept() {
    let db = TestDb::new(Backend::Sqlite);
    let store = open(&db, Backend::Sqlite).await;
    let storage = TelbotStorage::with_ttl(store.clone(), Duration::from_secs(1));
    let d: Dialogue<Form, TelbotStorage> = Dialogue::new(storage.clone(), ChatId(1));
    d.update(Form::ReceiveAge { name: "Bo".into() })
        .await
        .unwrap();
    assert!(d.get().await.unwrap().is_some());
    let gone = telbot_testkit::wait_until_async(Duration::from_secs(5), || async {
        d.get().await.unwrap().is_none()
    })
    .await;
    assert!(gone, "a dialogue past its time to live counts as none");
    assert_eq!(storage.count().await.unwrap(), 1, "kept until the sweep");
    assert_eq!(storage.sweep().await.unwrap(), 1);
    assert_eq!(storage.count().await.unwrap(), 0);
}

#[tokio::test]
async fn a_state_that_no_longer_fits_its_type_is_an_error_not_a_panic() {
    let db = TestDb::new(Backend::Sqlite);
    let store = open(&db, Backend::Sqlite).await;
    sqlx::query(
        "INSERT INTO dialogues (chat_id, state, expires_at) VALUES (5, '\"Renamed\"', NULL)",
    )
    .execute(&store.pool)
    .await
    .unwrap();
    let d: Dialogue<Form, TelbotStorage> = Dialogue::new(TelbotStorage::new(store), ChatId(5));
    let r = d.get().await;
    assert!(matches!(r, Err(StorageError::State(_))), "{r:?}");
}
