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
use redb::{Database, WriteTransaction};
use shared::CounterName;
use tokio::sync::{mpsc, oneshot};

use super::owned::{Tables, apply, change_meta};
use super::{fault, unix_seconds};
use crate::access::{KeyHash, Owned};
use crate::store::{Applied, Credential, MetaUpdate, StoreError, Write};

/// Changes that may wait for the writer; past this, a caller waits for room, within the
/// store's timeout like any other wait.
pub const QUEUE: usize = 4096;

/// Most changes one transaction takes, so that one commit never grows without bound.
const MAX_BATCH: usize = 1024;

/// What the writer is asked to do.
pub enum Job {
    /// Apply a write once per `op_id`, if the credential may; answered after the commit
    /// that holds it.
    Change {
        /// The counter it changes.
        name: CounterName,
        /// What it does, and under which `op_id`.
        write: Write,
        /// Whether the name is open, and the key presented.
        credential: Credential,
        /// Where its outcome goes; closed when the caller stopped waiting.
        reply: oneshot::Sender<Result<Applied, StoreError>>,
    },
    /// Version 2: create, update or delete an owned counter's meta; answered after the
    /// commit with the meta's new revision.
    Meta {
        name: CounterName,
        job: MetaJob,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// Readiness: answered once the writer has taken the write lock for the batch this probe
    /// is in and finished that batch, so a stuck or failed writer cannot look ready.
    Probe {
        /// Where the writer says it got this far.
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// A change of an owned counter's meta.
pub enum MetaJob {
    /// Creates the counter unless its name is in use or `max` owned counters exist.
    Create { owned: Owned, max: u64 },
    /// The owner's update, if the meta is still at revision `read`.
    Update {
        key: KeyHash,
        read: u64,
        update: MetaUpdate,
    },
    /// The owner deletes the counter, its meta and its history.
    Delete { key: KeyHash },
}

/// A job's outcome, held until its batch's commit is known; `None` for a probe and for a
/// job whose caller stopped waiting.
pub enum Outcome {
    None,
    Applied(Result<Applied, StoreError>),
    Meta(Result<u64, StoreError>),
}

/// What the writer keeps for every batch.
#[derive(Clone, Copy)]
struct Limits {
    /// How long a dedupe record lives.
    op_ttl: Duration,
    /// History rows kept per counter.
    history_limit: u64,
}

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
    history_limit: u64,
    commits: Counter,
) -> std::io::Result<(mpsc::Sender<Job>, WriterThread)> {
    let (sender, queue) = mpsc::channel(QUEUE);
    let limits = Limits {
        op_ttl,
        history_limit,
    };
    let thread = std::thread::Builder::new()
        .name("embedded-writer".into())
        .spawn(move || run(&db, queue, limits, &commits))?;
    Ok((sender, WriterThread(Some(thread))))
}

fn run(db: &Database, mut queue: mpsc::Receiver<Job>, limits: Limits, commits: &Counter) {
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
        match txn.and_then(|txn| write(txn, &batch, limits, commits)) {
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
/// the whole transaction; a refused job (overflow, no access, a conflict) wrote nothing and
/// the rest go on.
fn write(
    txn: WriteTransaction,
    batch: &[Job],
    limits: Limits,
    commits: &Counter,
) -> Result<Vec<Outcome>, StoreError> {
    let now = unix_seconds();
    let now_ms = super::unix_millis();
    let expires = now + limits.op_ttl.as_secs();
    let mut changed = false;
    let mut outcomes = Vec::with_capacity(batch.len());
    {
        let mut tables = Tables::open(&txn)?;
        for job in batch {
            let outcome = match job {
                // Its caller gave up waiting and was answered `unavailable`: applying it now
                // would make a change nobody was told of.
                Job::Change { reply, .. } if reply.is_closed() => Outcome::None,
                Job::Meta { reply, .. } if reply.is_closed() => Outcome::None,
                Job::Change {
                    name,
                    write,
                    credential,
                    ..
                } => {
                    let at = (now, now_ms, expires, limits.history_limit);
                    match apply(&mut tables, name, write, credential, at) {
                        Ok(applied) => {
                            changed |= !applied.duplicate;
                            Outcome::Applied(Ok(applied))
                        }
                        Err(err @ StoreError::Unavailable(_)) => return Err(err),
                        Err(refused) => Outcome::Applied(Err(refused)),
                    }
                }
                Job::Meta { name, job, .. } => match change_meta(&mut tables, name, job) {
                    Ok(rev) => {
                        changed = true;
                        Outcome::Meta(Ok(rev))
                    }
                    Err(err @ StoreError::Unavailable(_)) => return Err(err),
                    Err(refused) => Outcome::Meta(Err(refused)),
                },
                Job::Probe { .. } => Outcome::None,
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

impl Job {
    /// Hands the outcome to whoever waits for it.
    fn answer(self, outcome: Outcome) {
        match (self, outcome) {
            (Job::Change { reply, .. }, Outcome::Applied(result)) => {
                let _ = reply.send(result);
            }
            (Job::Meta { reply, .. }, Outcome::Meta(result)) => {
                let _ = reply.send(result);
            }
            (Job::Probe { reply }, _) => {
                let _ = reply.send(Ok(()));
            }
            _ => {}
        }
    }

    /// Tells whoever waits that the batch failed and this job with it.
    fn fail(self, detail: &str) {
        let err = || StoreError::Unavailable(format!("the batch this was in failed: {detail}"));
        match self {
            Job::Change { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
            Job::Meta { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
            Job::Probe { reply } => {
                let _ = reply.send(Err(err()));
            }
        }
    }
}
