//! The embedded store: counters in one redb file, for a single replica with zero set-up.
//!
//! Changes go to one writer thread ([`writer`]) that applies the changes queued together in
//! one write transaction and commits them with one fsync before any of them is answered
//! (group commit), so an acknowledged change survives `kill -9` and power loss. One writer
//! also makes the dedupe check and the change atomic. Reads never wait for it (redb readers
//! see the last commit). Every call is bounded by `--store-timeout-ms`, as with Redis. The
//! file lock redb takes keeps a second process from opening the same data.

mod owned;
#[cfg(test)]
mod served;
#[cfg(test)]
mod tests;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::Counter;
use redb::{Database, DatabaseError, ReadableTable, TableDefinition};
use shared::{CounterName, CounterState};
use tokio::sync::{mpsc, oneshot};

use self::writer::{Job, MetaJob, WriterThread};
use super::{Applied, Credential, StoreError, Write, within};

/// Counter name → (value, version).
const COUNTERS: TableDefinition<&str, (i64, u64)> = TableDefinition::new("counters");
/// (counter name, op_id) → (value, version, expires at in Unix seconds): dedupe records.
const OPS: TableDefinition<(&str, &str), (i64, u64, u64)> = TableDefinition::new("ops");
/// Version 2: counter name → its meta as JSON (settings, key hashes, revision). A counter
/// with a row here is owned.
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
/// Version 2: (counter name, version) → (time in Unix milliseconds, kind, delta, value,
/// op_id, label): the history, one row per change ('' for no op_id or label).
const HISTORY: TableDefinition<(&str, u64), HistoryRow> = TableDefinition::new("history");

/// A history row: (time in Unix milliseconds, kind, delta, value, op_id, label).
type HistoryRow = (u64, &'static str, i64, i64, &'static str, &'static str);
/// Version 2: (counter name, op_id) → (delta, undone, expires at in Unix seconds): the
/// increments and decrements an undo may name, kept as long as their dedupe records.
const UNDO: TableDefinition<(&str, &str), (i64, bool, u64)> = TableDefinition::new("undo");

/// The file under the data folder.
const FILE_NAME: &str = "counters.redb";

/// How the store names itself when a call runs out of time.
const STORE: &str = "the embedded store";

/// Why the store could not be opened; the server does not start (nor bind its port).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// redb locks the file for as long as a process has it open.
    #[error("{0} is in use by another process (another backend with the same --data-dir?)")]
    InUse(PathBuf),
    /// The folder or file cannot be created, read or written, or is not a redb file.
    #[error("cannot open {path}: {source}")]
    Database {
        /// The folder or file concerned.
        path: PathBuf,
        /// What failed.
        source: Box<redb::Error>,
    },
    /// The operating system would not start the writer thread.
    #[error("cannot start the writer thread: {0}")]
    Writer(std::io::Error),
}

/// A redb-backed store, shared by every request of the one replica; cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    /// Shared by every clone; the last one to go stops the writer and closes the file.
    inner: Arc<Inner>,
}

struct Inner {
    /// The writer's queue, the only way to a write transaction for a change. Declared before
    /// `thread`, so it is dropped first: the writer sees its queue close and stops.
    writer: mpsc::Sender<Job>,
    /// The open database; reads go to it directly.
    db: Arc<Database>,
    /// Longest wait for one call before answering `unavailable`.
    timeout: Duration,
    /// The writer thread, waited for when the store goes.
    _thread: WriterThread,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir` and starts its writer. `timeout` bounds every
    /// call; `commits` counts the write transactions committed (each one fsync).
    /// `history_limit` is the history rows kept per counter.
    pub fn open(
        dir: &Path,
        op_ttl: Duration,
        timeout: Duration,
        history_limit: u64,
        commits: Counter,
    ) -> Result<Self, OpenError> {
        let file = dir.join(FILE_NAME);
        let failed = |path: &Path, err: redb::Error| OpenError::Database {
            path: path.to_owned(),
            source: Box::new(err),
        };
        std::fs::create_dir_all(dir).map_err(|err| failed(dir, err.into()))?;
        let db = match Database::create(&file) {
            Ok(db) => db,
            Err(DatabaseError::DatabaseAlreadyOpen) => return Err(OpenError::InUse(file)),
            Err(err) => return Err(failed(&file, err.into())),
        };
        Self::start(db, op_ttl, timeout, history_limit, commits).map_err(|err| match err {
            StartFailure::Database(source) => OpenError::Database { path: file, source },
            StartFailure::Writer(err) => OpenError::Writer(err),
        })
    }

    /// Creates the tables and starts the writer on an open database.
    fn start(
        db: Database,
        op_ttl: Duration,
        timeout: Duration,
        history_limit: u64,
        commits: Counter,
    ) -> Result<Self, StartFailure> {
        // Create every table up front so readers never meet a missing table.
        let txn = db.begin_write().map_err(redb::Error::from)?;
        txn.open_table(COUNTERS).map_err(redb::Error::from)?;
        txn.open_table(OPS).map_err(redb::Error::from)?;
        txn.open_table(META).map_err(redb::Error::from)?;
        txn.open_table(HISTORY).map_err(redb::Error::from)?;
        txn.open_table(UNDO).map_err(redb::Error::from)?;
        txn.commit().map_err(redb::Error::from)?;
        let db = Arc::new(db);
        let (writer, thread) = writer::start(db.clone(), op_ttl, history_limit.max(1), commits)
            .map_err(StartFailure::Writer)?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer,
                db,
                timeout,
                _thread: thread,
            }),
        })
    }

    /// Applies a write once per `op_id`, if the credential may make it; answered once it
    /// is on disk.
    pub async fn apply(
        &self,
        name: &CounterName,
        write: &Write,
        credential: &Credential,
    ) -> Result<Applied, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Change {
            name: name.clone(),
            write: write.clone(),
            credential: *credential,
            reply,
        };
        within(self.inner.timeout, STORE, self.through_writer(job, answer)).await
    }

    /// Runs one change of an owned counter's meta in the writer; answered once on disk.
    async fn meta_job(&self, name: &CounterName, job: MetaJob) -> Result<u64, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Meta {
            name: name.clone(),
            job,
            reply,
        };
        within(self.inner.timeout, STORE, self.through_writer(job, answer)).await
    }

    pub async fn get(&self, name: &CounterName) -> Result<CounterState, StoreError> {
        let db = self.inner.db.clone();
        let name = name.clone();
        let read = run_blocking(move || {
            let txn = db.begin_read().map_err(fault)?;
            let counters = txn.open_table(COUNTERS).map_err(fault)?;
            let (value, version) = counters
                .get(name.as_str())
                .map_err(fault)?
                .map(|record| record.value())
                .unwrap_or((0, 0));
            Ok(CounterState {
                name,
                value,
                version,
            })
        });
        within(self.inner.timeout, STORE, read).await
    }

    /// Ok when, within the timeout, a read answers and the writer takes the write lock and
    /// finishes the changes queued before the probe: not stuck behind a disk that stopped
    /// answering, and not failed (after an I/O error redb refuses every write transaction).
    pub async fn ready(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let probe = async {
            self.get(&CounterName::global()).await?;
            self.through_writer(Job::Probe { reply }, answer).await
        };
        within(self.inner.timeout, STORE, probe).await
    }

    /// Queues a job for the writer and waits for its answer (callers bound the wait).
    async fn through_writer<T>(
        &self,
        job: Job,
        answer: oneshot::Receiver<Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let stopped = || StoreError::Unavailable("the embedded store's writer has stopped".into());
        self.inner.writer.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Deletes expired dedupe records; returns how many went. It works in batches of short
    /// write transactions, so presses (which need the one writer) wait for a batch at most,
    /// never for a scan of a day's records. It runs in the background, without a deadline.
    pub async fn purge_expired_ops(&self) -> Result<usize, StoreError> {
        const BATCH: usize = 5_000;
        let mut removed = 0;
        loop {
            let db = self.inner.db.clone();
            let batch = run_blocking(move || {
                let now = unix_seconds();
                let expired: Vec<(String, String)> = {
                    let txn = db.begin_read().map_err(fault)?;
                    let ops = txn.open_table(OPS).map_err(fault)?;
                    let mut expired = Vec::new();
                    for entry in ops.iter().map_err(fault)? {
                        let (key, record) = entry.map_err(fault)?;
                        if record.value().2 <= now {
                            let (name, op_id) = key.value();
                            expired.push((name.to_owned(), op_id.to_owned()));
                            if expired.len() == BATCH {
                                break;
                            }
                        }
                    }
                    expired
                };
                let mut removed = 0;
                let txn = db.begin_write().map_err(fault)?;
                {
                    let mut ops = txn.open_table(OPS).map_err(fault)?;
                    let mut undo = txn.open_table(UNDO).map_err(fault)?;
                    for (name, op_id) in &expired {
                        let key = (name.as_str(), op_id.as_str());
                        // Read again under the write lock: an op retried after its record
                        // expired has a fresh record now, which must stay.
                        let still_expired = ops
                            .get(key)
                            .map_err(fault)?
                            .is_some_and(|record| record.value().2 <= now);
                        if still_expired {
                            ops.remove(key).map_err(fault)?;
                            // What an undo may name lives as long as the dedupe record.
                            undo.remove(key).map_err(fault)?;
                            removed += 1;
                        }
                    }
                }
                txn.commit().map_err(fault)?;
                Ok((expired.len(), removed))
            })
            .await?;
            removed += batch.1;
            if batch.0 < BATCH {
                return Ok(removed);
            }
        }
    }
}

/// Why a database could not be made ready for the store.
enum StartFailure {
    /// Creating the tables failed.
    Database(Box<redb::Error>),
    /// The writer thread did not start.
    Writer(std::io::Error),
}

impl From<redb::Error> for StartFailure {
    fn from(err: redb::Error) -> Self {
        Self::Database(Box::new(err))
    }
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| StoreError::Unavailable(format!("store task failed: {err}")))?
}

/// A disk or database fault: the change was not made, so the client may retry.
fn fault(err: impl Into<redb::Error>) -> StoreError {
    StoreError::Unavailable(err.into().to_string())
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
