//! The embedded store's one writer, and its group commit.
//!
//! Every change goes through a queue to one thread. The thread takes the first change
//! waiting, then the write lock, then every change that queued meanwhile — typically while
//! the previous batch was being made durable — applies them in order in one write transaction
//! and commits it with one fsync. Only then is each change answered, so an acknowledged change
//! is on disk exactly as when each change had a transaction of its own; changes that arrive
//! together share the fsync instead of queueing for one each. A batch that cannot be committed
//! fails every change in it: none of them is applied, none is acknowledged.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use redb::{Database, ReadableTable, Table, WriteTransaction};
use shared::{Change, CounterName, CounterState};
use tokio::sync::{mpsc, oneshot};

use super::{COUNTERS, OPS, fault, unix_seconds};
use crate::store::{Applied, StoreError};

/// Changes that may wait for the writer; past this, a caller waits for room, within the
/// store's timeout like any other wait.
pub const QUEUE: usize = 4096;

/// Most changes one transaction takes, so that one commit never grows without bound.
const MAX_BATCH: usize = 1024;

/// What the writer is asked to do.
pub enum Job {
    /// Apply a change once per `op_id`; answered after the commit that holds it.
    Change {
        /// The counter it changes.
        name: CounterName,
        /// By how much, and under which `op_id`.
        change: Change,
        /// Where its outcome goes; closed when the caller stopped waiting.
        reply: oneshot::Sender<Result<Applied, StoreError>>,
    },
    /// Readiness: answered once the writer has taken the write lock for the batch this probe
    /// is in and finished that batch, so a stuck or failed writer cannot look ready.
    Probe {
        /// Where the writer says it got this far.
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// A change's outcome, held until its batch's commit is known; `None` for a probe and for a
/// change whose caller stopped waiting.
type Outcome = Option<Result<Applied, StoreError>>;

/// The writer thread. Dropping this waits for it to end, which it does once every sender of
/// its queue is gone, after answering the batch it is on: then the database file is closed
/// and its lock released when the store's last handle goes.
pub struct WriterThread(Option<JoinHandle<()>>);

impl Drop for WriterThread {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the writer on `db`; `commits` counts the transactions it commits.
pub fn start(
    db: Arc<Database>,
    op_ttl: Duration,
    commits: Counter,
) -> std::io::Result<(mpsc::Sender<Job>, WriterThread)> {
    let (sender, queue) = mpsc::channel(QUEUE);
    let thread = std::thread::Builder::new()
        .name("embedded-writer".into())
        .spawn(move || run(&db, queue, op_ttl, &commits))?;
    Ok((sender, WriterThread(Some(thread))))
}

fn run(db: &Database, mut queue: mpsc::Receiver<Job>, op_ttl: Duration, commits: &Counter) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        // The lock first, then whatever queued while it was being taken: changes that arrive
        // while another writer (the purge) holds it join this batch too.
        let txn = db.begin_write().map_err(fault);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match txn.and_then(|txn| write(txn, &batch, op_ttl, commits)) {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    job.answer(outcome);
                }
            }
            Err(err) => {
                let detail = match err {
                    StoreError::Unavailable(detail) => detail,
                    other => other.to_string(),
                };
                tracing::error!(%detail, jobs = batch.len(), "a batch of changes failed, none applied");
                for job in batch.drain(..) {
                    job.fail(&detail);
                }
            }
        }
    }
}

/// Applies `batch` in order in `txn` and commits it when anything changed. Any fault aborts
/// the whole transaction; a refused change (overflow) wrote nothing and the rest go on.
fn write(
    txn: WriteTransaction,
    batch: &[Job],
    op_ttl: Duration,
    commits: &Counter,
) -> Result<Vec<Outcome>, StoreError> {
    let now = unix_seconds();
    let expires = now + op_ttl.as_secs();
    let mut changed = false;
    let mut outcomes = Vec::with_capacity(batch.len());
    {
        let mut counters = txn.open_table(COUNTERS).map_err(fault)?;
        let mut ops = txn.open_table(OPS).map_err(fault)?;
        for job in batch {
            let outcome = match job {
                // Its caller gave up waiting and was answered `unavailable`: applying it now
                // would make a change nobody was told of.
                Job::Change { reply, .. } if reply.is_closed() => None,
                Job::Change { name, change, .. } => {
                    match apply(&mut counters, &mut ops, name, change, now, expires) {
                        Ok(applied) => {
                            changed |= !applied.duplicate;
                            Some(Ok(applied))
                        }
                        Err(StoreError::Overflow) => Some(Err(StoreError::Overflow)),
                        Err(err) => return Err(err),
                    }
                }
                Job::Probe { .. } => None,
            };
            outcomes.push(outcome);
        }
    }
    if changed {
        txn.commit().map_err(|err| {
            StoreError::Unavailable(format!("committing the batch to disk failed: {err}"))
        })?;
        commits.inc();
    } else {
        // Nothing to make durable: a duplicate answers from a record committed earlier.
        txn.abort().map_err(fault)?;
    }
    Ok(outcomes)
}

/// One change in the batch's transaction: the dedupe check, the new value and version, and
/// the dedupe record, all or nothing.
fn apply(
    counters: &mut Table<'_, &'static str, (i64, u64)>,
    ops: &mut Table<'_, (&'static str, &'static str), (i64, u64, u64)>,
    name: &CounterName,
    change: &Change,
    now: u64,
    expires: u64,
) -> Result<Applied, StoreError> {
    let op_key = change.op_id.as_ref().map(|id| (name.as_str(), id.as_str()));
    if let Some(key) = op_key
        && let Some(record) = ops.get(key).map_err(fault)?
    {
        let (value, version, record_expires) = record.value();
        if record_expires > now {
            let state = CounterState {
                name: name.clone(),
                value,
                version,
            };
            return Ok(Applied {
                state,
                duplicate: true,
            });
        }
    }
    let (value, version) = counters
        .get(name.as_str())
        .map_err(fault)?
        .map(|record| record.value())
        .unwrap_or((0, 0));
    let value = value
        .checked_add(change.delta())
        .ok_or(StoreError::Overflow)?;
    let version = version + 1;
    counters
        .insert(name.as_str(), (value, version))
        .map_err(fault)?;
    if let Some(key) = op_key {
        ops.insert(key, (value, version, expires)).map_err(fault)?;
    }
    Ok(Applied {
        state: CounterState {
            name: name.clone(),
            value,
            version,
        },
        duplicate: false,
    })
}

impl Job {
    /// Hands the outcome to whoever waits for it.
    fn answer(self, outcome: Outcome) {
        match (self, outcome) {
            (Job::Change { reply, .. }, Some(result)) => {
                let _ = reply.send(result);
            }
            (Job::Change { .. }, None) => {}
            (Job::Probe { reply }, _) => {
                let _ = reply.send(Ok(()));
            }
        }
    }

    /// Tells whoever waits that the batch failed and this job with it.
    fn fail(self, detail: &str) {
        let err = || StoreError::Unavailable(format!("the batch this was in failed: {detail}"));
        match self {
            Job::Change { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
            Job::Probe { reply } => {
                let _ = reply.send(Err(err()));
            }
        }
    }
}
