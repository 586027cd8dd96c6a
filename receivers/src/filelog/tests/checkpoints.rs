//! Checkpoints and delivery: restart with storage, restart without, refusals.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use pipeline_api::storage::{MemoryStorage, StorageClient};

use super::*;
use crate::filelog::checkpoint;

#[tokio::test]
async fn restart_with_storage_continues_exactly_where_it_stopped() {
    let dir = TempDir::new("restart");
    let f = dir.path("a.log");
    append(&f, "one\ntwo\nthree\n");
    let storage = MemoryStorage::default();
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(&dir.glob("*.log"), "start_at: beginning"),
        &sink,
        Some(&storage),
    );
    assert_eq!(wait_records(&sink, 3).await, vec!["one", "two", "three"]);
    wait_for("checkpoint saved", || {
        r.counters.checkpoints_saved.load(Ordering::SeqCst) > 0
    })
    .await;
    r.stop().await;
    assert_eq!(
        storage.keys(),
        vec![checkpoint::KEY.to_string()],
        "Go's key"
    );

    append(&f, "four\nfive\n");
    // start_at is not applicable once a checkpoint exists: `end` must not skip four/five,
    // `beginning` must not repeat one/two/three
    let sink2 = Arc::new(Sink::default());
    let r = start(
        &cfg(&dir.glob("*.log"), "start_at: end"),
        &sink2,
        Some(&storage),
    );
    assert_eq!(wait_records(&sink2, 2).await, vec!["four", "five"]);
    polls(&r.counters, 3).await;
    assert_eq!(sink2.bodies(), vec!["four", "five"]);
    r.stop().await;

    let stored = storage.get(checkpoint::KEY).await.unwrap().unwrap();
    let files = checkpoint::decode(&stored).unwrap();
    let total = "one\ntwo\nthree\nfour\nfive\n".len() as u64;
    assert!(files.iter().any(|m| m.offset == total), "offset at the end");
}

#[tokio::test]
async fn without_storage_a_restart_follows_start_at() {
    let dir = TempDir::new("nostorage");
    let f = dir.path("a.log");
    append(&f, "old\n");
    let sink = Arc::new(Sink::default());
    let r = start(&cfg(&dir.glob("*.log"), "start_at: beginning"), &sink, None);
    wait_records(&sink, 1).await;
    r.stop().await;
    let sink2 = Arc::new(Sink::default());
    let r = start(&cfg(&dir.glob("*.log"), "start_at: end"), &sink2, None);
    polls(&r.counters, 2).await;
    append(&f, "new\n");
    assert_eq!(wait_records(&sink2, 1).await, vec!["new"]);
    r.stop().await;
}

#[tokio::test]
async fn refused_batches_are_offered_again_and_nothing_is_lost_or_repeated() {
    let dir = TempDir::new("refuse");
    let f = dir.path("a.log");
    let storage = MemoryStorage::default();
    let sink = Arc::new(Sink::default());
    sink.refuse_first.store(3, Ordering::SeqCst);
    let r = start(
        &cfg(&dir.glob("*.log"), "start_at: beginning"),
        &sink,
        Some(&storage),
    );
    for i in 0..50 {
        append(&f, &format!("l{i}\n"));
        if i % 10 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    let bodies = wait_records(&sink, 50).await;
    let want: Vec<String> = (0..50).map(|i| format!("l{i}")).collect();
    assert_eq!(bodies, want);
    assert!(r.counters.refusals.load(Ordering::SeqCst) >= 3);
    polls(&r.counters, 3).await;
    assert_eq!(sink.bodies().len(), 50);
    r.stop().await;
    // the checkpoint is at the end: a restart sends nothing again
    let sink2 = Arc::new(Sink::default());
    let r = start(
        &cfg(&dir.glob("*.log"), "start_at: beginning"),
        &sink2,
        Some(&storage),
    );
    polls(&r.counters, 3).await;
    assert!(sink2.bodies().is_empty());
    r.stop().await;
}

#[tokio::test]
async fn a_refusal_at_stop_leaves_the_lines_for_the_next_start() {
    let dir = TempDir::new("refuse-stop");
    let f = dir.path("a.log");
    append(&f, "accepted\n");
    let storage = MemoryStorage::default();
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(&dir.glob("*.log"), "start_at: beginning"),
        &sink,
        Some(&storage),
    );
    wait_records(&sink, 1).await;
    wait_for("checkpoint saved", || {
        r.counters.checkpoints_saved.load(Ordering::SeqCst) > 0
    })
    .await;
    sink.always_refuse.store(true, Ordering::SeqCst);
    append(&f, "kept\n");
    wait_for("offered", || {
        sink.offered
            .lock()
            .unwrap()
            .iter()
            .filter(|b| *b == "kept")
            .count()
            >= 2
    })
    .await;
    r.stop().await;
    let sink2 = Arc::new(Sink::default());
    let r = start(
        &cfg(&dir.glob("*.log"), "start_at: end"),
        &sink2,
        Some(&storage),
    );
    assert_eq!(wait_records(&sink2, 1).await, vec!["kept"]);
    polls(&r.counters, 3).await;
    assert_eq!(sink2.bodies(), vec!["kept"]);
    r.stop().await;
}

#[tokio::test]
async fn a_permanent_refusal_drops_the_batch_and_moves_on() {
    let dir = TempDir::new("permanent");
    let f = dir.path("a.log");
    append(&f, "rejected\n");
    let sink = Arc::new(Sink::default());
    sink.permanent.store(true, Ordering::SeqCst);
    let r = start(&cfg(&dir.glob("*.log"), "start_at: beginning"), &sink, None);
    wait_for("offered once", || sink.calls.load(Ordering::SeqCst) >= 1).await;
    sink.permanent.store(false, Ordering::SeqCst);
    append(&f, "accepted\n");
    assert_eq!(wait_records(&sink, 1).await, vec!["accepted"]);
    assert_eq!(sink.offered.lock().unwrap()[0], "rejected");
    r.stop().await;
}

#[tokio::test]
async fn retry_on_failure_gives_up_after_max_elapsed_time_as_go() {
    let dir = TempDir::new("retry");
    let f = dir.path("a.log");
    append(&f, "doomed\n");
    let sink = Arc::new(Sink::default());
    sink.always_refuse.store(true, Ordering::SeqCst);
    let r = start(
        &cfg(
            &dir.glob("*.log"),
            "start_at: beginning\nretry_on_failure: {enabled: true, initial_interval: 10ms, max_interval: 20ms, max_elapsed_time: 150ms}",
        ),
        &sink,
        None,
    );
    wait_for("retried", || sink.calls.load(Ordering::SeqCst) >= 3).await;
    // after max_elapsed_time the batch is dropped and later lines are read
    append(&f, "later\n");
    wait_for("later offered", || {
        sink.offered.lock().unwrap().iter().any(|b| b == "later")
    })
    .await;
    let offered = sink.offered.lock().unwrap().clone();
    let first_later = offered.iter().position(|b| b == "later").unwrap();
    assert!(
        offered[first_later..].iter().all(|b| b != "doomed"),
        "dropped for good"
    );
    r.stop().await;
}

#[test]
fn a_missing_storage_extension_fails_the_build_naming_it() {
    let cfg = parse("include: [/tmp/none-*.log]\nstorage: file_storage/checkpoints");
    let sink: Arc<dyn pipeline_api::Consumer> = Arc::new(Sink::default());
    let next = SignalConsumers {
        logs: Some(sink),
        ..Default::default()
    };
    let err = match crate::filelog::FileLogReceiver::build(context(), &cfg, next) {
        Ok(_) => panic!("built without the storage extension"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("file_storage/checkpoints"), "{err}");
}
