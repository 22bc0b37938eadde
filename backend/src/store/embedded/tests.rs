//! The embedded store on a real redb file in a temporary folder. To hold the writer still,
//! a test takes redb's one write lock itself (as a purge batch or a stalled disk would hold
//! the writer up), queues changes behind it, and lets go; to fail a commit, the file is
//! reached through a redb storage backend that refuses writes on demand.

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::StorageBackend;
use redb::backends::FileBackend;
use shared::{ChangeRequest, Direction};
use tokio::task::JoinHandle;

use super::writer::QUEUE;
use super::*;

/// Long enough never to fire in a test that does not want it to.
const PATIENT: Duration = Duration::from_secs(30);

/// What a change on an open counter presents.
const OPEN: Credential = Credential {
    open: true,
    key: None,
};

fn change(by: i64, op_id: Option<&str>) -> Write {
    let request = ChangeRequest {
        by: Some(by.abs()),
        op_id: op_id.map(str::to_owned),
        label: None,
    };
    let direction = if by < 0 {
        Direction::Decrement
    } else {
        Direction::Increment
    };
    Write::Change(request.validate(direction).unwrap())
}

fn open(dir: &Path, op_ttl: Duration, timeout: Duration) -> (EmbeddedStore, Counter) {
    let commits = Counter::default();
    let store = EmbeddedStore::open(dir, op_ttl, timeout, 100_000, commits.clone()).unwrap();
    (store, commits)
}

/// Jobs waiting in the writer's queue (not counting the one it holds).
fn queued(store: &EmbeddedStore) -> usize {
    QUEUE - store.inner.writer.capacity()
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Holds redb's write lock (the returned transaction) with the writer waiting for it, having
/// taken a probe from its queue: whatever is queued from now on joins that probe's batch.
async fn stall_writer(store: &EmbeddedStore) -> (redb::WriteTransaction, JoinHandle<()>) {
    let held = store.inner.db.begin_write().unwrap();
    let (reply, answer) = oneshot::channel();
    store.inner.writer.send(Job::Probe { reply }).await.unwrap();
    until("the writer takes the probe", || queued(store) == 0).await;
    let probe = tokio::spawn(async move { answer.await.unwrap().unwrap() });
    (held, probe)
}

/// Starts applying `change` and waits until it is in the writer's queue, so the queue's
/// order is the order of these calls.
async fn enqueue(
    store: &EmbeddedStore,
    name: &str,
    change: Write,
) -> JoinHandle<Result<Applied, StoreError>> {
    let before = queued(store);
    let (task_store, name) = (store.clone(), name.parse::<CounterName>().unwrap());
    let task = tokio::spawn(async move { task_store.apply(&name, &change, &OPEN).await });
    until("the change is queued", || queued(store) == before + 1).await;
    task
}

fn state_of(result: Result<Applied, StoreError>) -> (i64, u64, bool) {
    let applied = result.unwrap();
    (
        applied.state.value,
        applied.state.version,
        applied.duplicate,
    )
}

#[tokio::test]
async fn applies_dedupes_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let name = CounterName::global();
    {
        let (store, _) = open(dir.path(), Duration::from_secs(60), PATIENT);
        let first = store.apply(&name, &change(5, Some("a")), &OPEN).await;
        assert_eq!(state_of(first), (5, 1, false));
        let again = store.apply(&name, &change(5, Some("a")), &OPEN).await;
        assert_eq!(state_of(again), (5, 1, true));
        store.apply(&name, &change(-2, None), &OPEN).await.unwrap();
    }
    // The first store is gone, its writer stopped and the file's lock released.
    let (store, _) = open(dir.path(), Duration::from_secs(60), PATIENT);
    let state = store.get(&name).await.unwrap();
    assert_eq!((state.value, state.version), (3, 2));
    assert_eq!(store.purge_expired_ops().await.unwrap(), 0);
}

#[tokio::test]
async fn expired_records_are_purged_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    // Records that expire at once.
    let (store, _) = open(dir.path(), Duration::ZERO, PATIENT);
    let name = CounterName::global();
    for k in 0..3 {
        store
            .apply(&name, &change(1, Some(&format!("p{k}"))), &OPEN)
            .await
            .unwrap();
    }
    assert_eq!(store.purge_expired_ops().await.unwrap(), 3);
    assert_eq!(store.purge_expired_ops().await.unwrap(), 0);
    let state = store.get(&name).await.unwrap();
    assert_eq!(state.value, 3, "purging changes no counter");
}

#[tokio::test]
async fn overflow_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path(), Duration::from_secs(60), PATIENT);
    let name = CounterName::global();
    set(&store, name.as_str(), (i64::MAX - 1, 7));
    let first = store.apply(&name, &change(1, None), &OPEN).await;
    assert_eq!(state_of(first).0, i64::MAX);
    assert!(matches!(
        store.apply(&name, &change(1, Some("too-far")), &OPEN).await,
        Err(StoreError::Overflow)
    ));
    let state = store.get(&name).await.unwrap();
    assert_eq!((state.value, state.version), (i64::MAX, 8));
    // The refused op left no record: once the value allows it, it applies.
    store.apply(&name, &change(-5, None), &OPEN).await.unwrap();
    let later = store.apply(&name, &change(1, Some("too-far")), &OPEN).await;
    assert!(!state_of(later).2);
}

/// Writes a counter directly, as an earlier commit would have left it.
fn set(store: &EmbeddedStore, name: &str, state: (i64, u64)) {
    let txn = store.inner.db.begin_write().unwrap();
    txn.open_table(COUNTERS)
        .unwrap()
        .insert(name, state)
        .unwrap();
    txn.commit().unwrap();
}

#[tokio::test]
async fn changes_queued_together_share_one_commit_and_dedupe_within_it() {
    let dir = tempfile::tempdir().unwrap();
    let (store, commits) = open(dir.path(), Duration::from_secs(60), PATIENT);
    set(&store, "edge", (i64::MAX, 1));
    let (held, probe) = stall_writer(&store).await;
    let a = enqueue(&store, "global", change(1, Some("a"))).await;
    let b = enqueue(&store, "global", change(2, Some("b"))).await;
    let a_again = enqueue(&store, "global", change(1, Some("a"))).await;
    let too_far = enqueue(&store, "edge", change(1, Some("e"))).await;
    let anonymous = enqueue(&store, "global", change(-4, None)).await;
    let committed = commits.get();
    drop(held);

    assert_eq!(state_of(a.await.unwrap()), (1, 1, false));
    assert_eq!(state_of(b.await.unwrap()), (3, 2, false));
    // The retry in the same transaction sees its first apply's record.
    assert_eq!(state_of(a_again.await.unwrap()), (1, 1, true));
    // A refused change fails alone; the rest of its batch is committed.
    assert!(matches!(too_far.await.unwrap(), Err(StoreError::Overflow)));
    assert_eq!(state_of(anonymous.await.unwrap()), (-1, 3, false));
    probe.await.unwrap();
    assert_eq!(commits.get(), committed + 1, "one commit for the batch");

    // A retry in a later batch is answered from the record; it commits nothing.
    let retry = store
        .apply(&CounterName::global(), &change(2, Some("b")), &OPEN)
        .await;
    assert_eq!(state_of(retry), (3, 2, true));
    assert_eq!(commits.get(), committed + 1);
    let edge = store.get(&"edge".parse().unwrap()).await.unwrap();
    assert_eq!((edge.value, edge.version), (i64::MAX, 1));
}

#[tokio::test]
async fn a_call_that_cannot_finish_in_time_is_unavailable_and_not_applied_later() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(
        dir.path(),
        Duration::from_secs(60),
        Duration::from_millis(300),
    );
    let name = CounterName::global();
    let held = store.inner.db.begin_write().unwrap();
    let late = store.apply(&name, &change(1, Some("late")), &OPEN).await;
    assert!(matches!(late, Err(StoreError::Unavailable(_))), "{late:?}");
    let ready = store.ready().await;
    assert!(
        matches!(ready, Err(StoreError::Unavailable(_))),
        "{ready:?}"
    );
    // Reads do not wait for the writer.
    assert_eq!(store.get(&name).await.unwrap().version, 0);

    drop(held);
    store.ready().await.unwrap();
    let state = store.get(&name).await.unwrap();
    assert_eq!(state.version, 0, "the abandoned change was not applied");
    let retried = store.apply(&name, &change(1, Some("late")), &OPEN).await;
    assert_eq!(state_of(retried), (1, 1, false));
}

/// The real file, through a backend that refuses every write and sync while `fail` is set,
/// as a failing disk does.
#[derive(Debug)]
struct FailingDisk {
    /// redb's own file backend (which also takes the file lock).
    file: FileBackend,
    /// Set by the test to make the disk fail.
    fail: Arc<AtomicBool>,
}

impl FailingDisk {
    fn check(&self) -> std::io::Result<()> {
        match self.fail.load(Ordering::SeqCst) {
            true => Err(std::io::Error::other("the disk failed")),
            false => Ok(()),
        }
    }
}

impl StorageBackend for FailingDisk {
    fn len(&self) -> std::io::Result<u64> {
        self.file.len()
    }
    fn read(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.file.read(offset, len)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.check()?;
        self.file.set_len(len)
    }
    fn sync_data(&self, eventual: bool) -> std::io::Result<()> {
        self.check()?;
        self.file.sync_data(eventual)
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.check()?;
        self.file.write(offset, data)
    }
}

#[tokio::test]
async fn a_batch_that_cannot_be_committed_fails_every_change_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let fail = Arc::new(AtomicBool::new(false));
    let name = CounterName::global();
    {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.path().join(FILE_NAME))
            .unwrap();
        let disk = FailingDisk {
            file: FileBackend::new(file).unwrap(),
            fail: fail.clone(),
        };
        let db = Database::builder().create_with_backend(disk).unwrap();
        let commits = Counter::default();
        let timeout = PATIENT;
        let Ok(store) =
            EmbeddedStore::start(db, Duration::from_secs(60), timeout, 100_000, commits)
        else {
            panic!("the store starts");
        };
        store
            .apply(&name, &change(1, Some("before")), &OPEN)
            .await
            .unwrap();

        let (held, _probe) = stall_writer(&store).await;
        let a = enqueue(&store, "global", change(1, Some("a"))).await;
        let b = enqueue(&store, "global", change(2, Some("b"))).await;
        let a_again = enqueue(&store, "global", change(1, Some("a"))).await;
        fail.store(true, Ordering::SeqCst);
        drop(held);
        for task in [a, b, a_again] {
            let result = task.await.unwrap();
            assert!(
                matches!(&result, Err(StoreError::Unavailable(detail)) if detail.contains("batch")),
                "{result:?}"
            );
        }
        // redb refuses every write after an I/O error: the writer has failed, and says so.
        let ready = store.ready().await;
        assert!(
            matches!(ready, Err(StoreError::Unavailable(_))),
            "{ready:?}"
        );
        fail.store(false, Ordering::SeqCst);
    }
    // Opened again (what a restart does): the failed batch left nothing, not even a record,
    // so its changes, retried under their op_ids, apply once each.
    let (store, _) = open(dir.path(), Duration::from_secs(60), PATIENT);
    let state = store.get(&name).await.unwrap();
    assert_eq!((state.value, state.version), (1, 1));
    let retried = store.apply(&name, &change(1, Some("a")), &OPEN).await;
    assert_eq!(state_of(retried), (2, 2, false));
}
