//! The embedded store: counters in one redb file, for a single replica with zero set-up.
//!
//! Every change is its own write transaction, committed with an fsync before the caller is
//! answered, so an acknowledged change survives `kill -9` and power loss. redb allows one
//! writer at a time, which also makes the dedupe check and the change atomic. The file lock
//! redb takes keeps a second process from opening the same data.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableTable, TableDefinition};
use shared::{Change, CounterName, CounterState};

use super::{Applied, StoreError};

/// Counter name → (value, version).
const COUNTERS: TableDefinition<&str, (i64, u64)> = TableDefinition::new("counters");
/// (counter name, op_id) → (value, version, expires at in Unix seconds): dedupe records.
const OPS: TableDefinition<(&str, &str), (i64, u64, u64)> = TableDefinition::new("ops");

/// The file under the data folder.
const FILE_NAME: &str = "counters.redb";

/// A redb-backed store, shared by every request of the one replica.
#[derive(Clone)]
pub struct EmbeddedStore {
    /// The open database; redb serialises writers internally.
    db: Arc<Database>,
    /// How long an `op_id` record lives.
    op_ttl: Duration,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path, op_ttl: Duration) -> Result<Self, Box<redb::Error>> {
        let boxed = |err: redb::Error| Box::new(err);
        std::fs::create_dir_all(dir).map_err(|err| boxed(err.into()))?;
        let db = Database::create(dir.join(FILE_NAME)).map_err(|err| boxed(err.into()))?;
        // Create both tables up front so readers never meet a missing table.
        let txn = db.begin_write().map_err(|err| boxed(err.into()))?;
        txn.open_table(COUNTERS).map_err(|err| boxed(err.into()))?;
        txn.open_table(OPS).map_err(|err| boxed(err.into()))?;
        txn.commit().map_err(|err| boxed(err.into()))?;
        Ok(Self {
            db: Arc::new(db),
            op_ttl,
        })
    }

    pub async fn apply(&self, name: &CounterName, change: &Change) -> Result<Applied, StoreError> {
        let store = self.clone();
        let name = name.clone();
        let change = change.clone();
        // redb does blocking file I/O (and an fsync per commit): keep it off the async workers.
        run_blocking(move || store.apply_blocking(&name, &change)).await
    }

    fn apply_blocking(&self, name: &CounterName, change: &Change) -> Result<Applied, StoreError> {
        let now = unix_seconds();
        let txn = self.db.begin_write().map_err(fault)?;
        let applied = {
            let mut ops = txn.open_table(OPS).map_err(fault)?;
            let op_key = change.op_id.as_ref().map(|id| (name.as_str(), id.as_str()));
            if let Some(key) = op_key
                && let Some(record) = ops.get(key).map_err(fault)?
            {
                let (value, version, expires) = record.value();
                if expires > now {
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
            let mut counters = txn.open_table(COUNTERS).map_err(fault)?;
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
                let expires = now + self.op_ttl.as_secs();
                ops.insert(key, (value, version, expires)).map_err(fault)?;
            }
            CounterState {
                name: name.clone(),
                value,
                version,
            }
        };
        txn.commit().map_err(fault)?;
        Ok(Applied {
            state: applied,
            duplicate: false,
        })
    }

    pub async fn get(&self, name: &CounterName) -> Result<CounterState, StoreError> {
        let store = self.clone();
        let name = name.clone();
        run_blocking(move || {
            let txn = store.db.begin_read().map_err(fault)?;
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
        })
        .await
    }

    /// Deletes expired dedupe records; returns how many went. It works in batches of short
    /// write transactions, so presses (which need the one writer) wait for a batch at most,
    /// never for a scan of a day's records.
    pub async fn purge_expired_ops(&self) -> Result<usize, StoreError> {
        const BATCH: usize = 5_000;
        let mut removed = 0;
        loop {
            let store = self.clone();
            let batch = run_blocking(move || {
                let now = unix_seconds();
                let expired: Vec<(String, String)> = {
                    let txn = store.db.begin_read().map_err(fault)?;
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
                let txn = store.db.begin_write().map_err(fault)?;
                {
                    let mut ops = txn.open_table(OPS).map_err(fault)?;
                    for (name, op_id) in &expired {
                        ops.remove((name.as_str(), op_id.as_str())).map_err(fault)?;
                    }
                }
                txn.commit().map_err(fault)?;
                Ok(expired.len())
            })
            .await?;
            removed += batch;
            if batch < BATCH {
                return Ok(removed);
            }
        }
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

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{ChangeRequest, Direction};

    fn change(by: i64, op_id: Option<&str>) -> Change {
        let request = ChangeRequest {
            by: Some(by.abs()),
            op_id: op_id.map(str::to_owned),
        };
        let direction = if by < 0 {
            Direction::Decrement
        } else {
            Direction::Increment
        };
        request.validate(direction).unwrap()
    }

    #[tokio::test]
    async fn applies_dedupes_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let name = CounterName::global();
        {
            let store = EmbeddedStore::open(dir.path(), Duration::from_secs(60)).unwrap();
            let first = store.apply(&name, &change(5, Some("a"))).await.unwrap();
            assert_eq!(
                (first.state.value, first.state.version, first.duplicate),
                (5, 1, false)
            );
            let again = store.apply(&name, &change(5, Some("a"))).await.unwrap();
            assert_eq!((again.state, again.duplicate), (first.state, true));
            store.apply(&name, &change(-2, None)).await.unwrap();
        }
        let store = EmbeddedStore::open(dir.path(), Duration::from_secs(60)).unwrap();
        let state = store.get(&name).await.unwrap();
        assert_eq!((state.value, state.version), (3, 2));
        assert_eq!(store.purge_expired_ops().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn expired_records_are_purged_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        // Records that expire at once.
        let store = EmbeddedStore::open(dir.path(), Duration::ZERO).unwrap();
        let name = CounterName::global();
        for k in 0..3 {
            store
                .apply(&name, &change(1, Some(&format!("p{k}"))))
                .await
                .unwrap();
        }
        assert_eq!(store.purge_expired_ops().await.unwrap(), 3);
        assert_eq!(store.purge_expired_ops().await.unwrap(), 0);
        assert_eq!(
            store.get(&name).await.unwrap().value,
            3,
            "purging changes no counter"
        );
    }

    #[tokio::test]
    async fn overflow_is_refused_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path(), Duration::from_secs(60)).unwrap();
        let name = CounterName::global();
        let txn = store.db.begin_write().unwrap();
        txn.open_table(COUNTERS)
            .unwrap()
            .insert(name.as_str(), (i64::MAX - 1, 7))
            .unwrap();
        txn.commit().unwrap();
        assert_eq!(
            store
                .apply(&name, &change(1, None))
                .await
                .unwrap()
                .state
                .value,
            i64::MAX
        );
        assert!(matches!(
            store.apply(&name, &change(1, Some("too-far"))).await,
            Err(StoreError::Overflow)
        ));
        let state = store.get(&name).await.unwrap();
        assert_eq!((state.value, state.version), (i64::MAX, 8));
        // The refused op left no record: once the value allows it, it applies.
        store.apply(&name, &change(-5, None)).await.unwrap();
        let later = store
            .apply(&name, &change(1, Some("too-far")))
            .await
            .unwrap();
        assert!(!later.duplicate);
    }
}
