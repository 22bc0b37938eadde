//! Version 2 in the embedded store: a write checked against the counter's keys, deduped,
//! recorded in the history and applied in one transaction (the writer's batch); an owned
//! counter's meta created, updated and deleted there too; and the reads of meta and history.

use redb::{ReadableTable, ReadableTableMetadata, Table, WriteTransaction};
use serde::{Deserialize, Serialize};
use shared::{ChangeKind, CounterName, CounterState, HistoryEntry, Role, Settings};

use super::writer::MetaJob;
use super::{
    COUNTERS, EmbeddedStore, HISTORY, HistoryRow, META, OPS, STORE, UNDO, fault, run_blocking,
};
use crate::access::{KeyHash, Owned};
use crate::store::history::rfc3339;
use crate::store::{Applied, Credential, HistoryQuery, MetaUpdate, StoreError, Write, within};

/// An owned counter's meta as the `meta` table holds it (JSON).
#[derive(Serialize, Deserialize)]
struct StoredMeta {
    #[serde(flatten)]
    settings: Settings,
    owner: String,
    staff: String,
    rev: u64,
}

fn encode(owned: &Owned) -> String {
    serde_json::to_string(&StoredMeta {
        settings: owned.settings.clone(),
        owner: owned.owner.hex(),
        staff: owned.staff.hex(),
        rev: owned.rev,
    })
    .expect("meta serialises")
}

fn decode(name: &CounterName, json: &str) -> Result<Owned, StoreError> {
    let damaged = || StoreError::Damaged {
        counter: name.clone(),
        key: format!("meta/{name}"),
        why: "is not the meta this service writes".into(),
    };
    let stored: StoredMeta = serde_json::from_str(json).map_err(|_| damaged())?;
    Ok(Owned {
        settings: stored.settings,
        owner: KeyHash::from_hex(&stored.owner).ok_or_else(damaged)?,
        staff: KeyHash::from_hex(&stored.staff).ok_or_else(damaged)?,
        rev: stored.rev,
    })
}

/// The tables a write transaction touches, opened once per batch.
pub struct Tables<'txn> {
    counters: Table<'txn, &'static str, (i64, u64)>,
    ops: Table<'txn, (&'static str, &'static str), (i64, u64, u64)>,
    meta: Table<'txn, &'static str, &'static str>,
    history: Table<'txn, (&'static str, u64), HistoryRow>,
    undo: Table<'txn, (&'static str, &'static str), (i64, bool, u64)>,
}

impl<'txn> Tables<'txn> {
    pub fn open(txn: &'txn WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            counters: txn.open_table(COUNTERS).map_err(fault)?,
            ops: txn.open_table(OPS).map_err(fault)?,
            meta: txn.open_table(META).map_err(fault)?,
            history: txn.open_table(HISTORY).map_err(fault)?,
            undo: txn.open_table(UNDO).map_err(fault)?,
        })
    }

    fn owned(&self, name: &CounterName) -> Result<Option<Owned>, StoreError> {
        let row = self.meta.get(name.as_str()).map_err(fault)?;
        row.map(|json| decode(name, json.value())).transpose()
    }
}

/// Why `credential` may not make a write that needs `needs` on this counter, if it may not:
/// the rules of stored.lua's `refusal`.
fn refusal(owned: Option<&Owned>, credential: &Credential, needs: Role) -> Option<StoreError> {
    match owned {
        None if !credential.open => Some(StoreError::NotFound),
        None if needs == Role::Owner => Some(StoreError::Forbidden),
        None => None,
        Some(owned) => match owned.role(credential.key.as_ref()) {
            Role::Viewer => Some(StoreError::Unauthorized),
            Role::Staff if needs == Role::Owner => Some(StoreError::Forbidden),
            _ => None,
        },
    }
}

/// One write in the batch's transaction: access, dedupe, undo checks, the new value and
/// version, the dedupe and undo records and the history row, all or nothing. Every check
/// comes before the first insert. `at`: now in seconds and milliseconds, when a new dedupe
/// record expires, and the history rows kept.
pub fn apply(
    tables: &mut Tables<'_>,
    name: &CounterName,
    write: &Write,
    credential: &Credential,
    at: (u64, u64, u64, u64),
) -> Result<Applied, StoreError> {
    let (now, now_ms, expires, history_limit) = at;
    if let Some(refused) = refusal(tables.owned(name)?.as_ref(), credential, write.needs()) {
        return Err(refused);
    }
    let op_key = write.op_id().map(|id| (name.as_str(), id.as_str()));
    if let Some(key) = op_key
        && let Some(record) = tables.ops.get(key).map_err(fault)?
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
    let undone = match write {
        Write::Undo(undo) => {
            let key = (name.as_str(), undo.undoes.as_str());
            let record = tables.undo.get(key).map_err(fault)?.map(|r| r.value());
            match record {
                Some((_, _, record_expires)) if record_expires <= now => {
                    return Err(StoreError::UnknownOp);
                }
                Some((_, true, _)) => {
                    return Err(StoreError::Conflict(
                        "that change was undone already".into(),
                    ));
                }
                Some((delta, false, record_expires)) => Some((key, delta, record_expires)),
                None if tables.ops.get(key).map_err(fault)?.is_some() => {
                    return Err(StoreError::Conflict(
                        "only an increment or a decrement can be undone".into(),
                    ));
                }
                None => return Err(StoreError::UnknownOp),
            }
        }
        _ => None,
    };
    let (value_now, version_now) = tables
        .counters
        .get(name.as_str())
        .map_err(fault)?
        .map(|record| record.value())
        .unwrap_or((0, 0));
    let (value, delta) = match write {
        Write::Change(change) => {
            let delta = change.delta();
            (
                value_now.checked_add(delta).ok_or(StoreError::Overflow)?,
                delta,
            )
        }
        Write::Set(set) => (set.value, set.value.saturating_sub(value_now)),
        Write::Undo(_) => {
            let delta = -undone.map_or(0, |(_, delta, _)| delta);
            (
                value_now.checked_add(delta).ok_or(StoreError::Overflow)?,
                delta,
            )
        }
    };
    let version = version_now + 1;
    tables
        .counters
        .insert(name.as_str(), (value, version))
        .map_err(fault)?;
    if let Some(key) = op_key {
        tables
            .ops
            .insert(key, (value, version, expires))
            .map_err(fault)?;
        if let Write::Change(_) = write {
            tables
                .undo
                .insert(key, (delta, false, expires))
                .map_err(fault)?;
        }
    }
    if let Some((key, delta, record_expires)) = undone {
        tables
            .undo
            .insert(key, (delta, true, record_expires))
            .map_err(fault)?;
    }
    let op_id = write.op_id().map_or("", |id| id.as_str());
    let row = (
        now_ms,
        write.kind().as_str(),
        delta,
        value,
        op_id,
        write.label().unwrap_or(""),
    );
    tables
        .history
        .insert((name.as_str(), version), row)
        .map_err(fault)?;
    // Exactly `history_limit` rows stay: the ones older than that go as new ones come.
    if version > history_limit {
        let oldest_kept = version - history_limit + 1;
        tables
            .history
            .retain_in((name.as_str(), 0)..(name.as_str(), oldest_kept), |_, _| {
                false
            })
            .map_err(fault)?;
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

/// A change of an owned counter's meta in the batch's transaction; returns the new
/// revision. Every check before the first write.
pub fn change_meta(
    tables: &mut Tables<'_>,
    name: &CounterName,
    job: &MetaJob,
) -> Result<u64, StoreError> {
    let current = tables.owned(name)?;
    match job {
        MetaJob::Create { owned, max } => {
            let in_use =
                current.is_some() || tables.counters.get(name.as_str()).map_err(fault)?.is_some();
            if in_use {
                return Err(StoreError::NameTaken);
            }
            if tables.meta.len().map_err(fault)? >= *max {
                return Err(StoreError::LimitReached);
            }
            let owned = Owned {
                rev: next_rev(0),
                ..owned.clone()
            };
            tables
                .meta
                .insert(name.as_str(), encode(&owned).as_str())
                .map_err(fault)?;
            Ok(owned.rev)
        }
        MetaJob::Update { key, read, update } => {
            let owned = owner_of(current, key)?;
            if owned.rev != *read {
                return Err(StoreError::Stale);
            }
            let mut next = Owned {
                rev: next_rev(owned.rev),
                ..owned
            };
            match update {
                MetaUpdate::Settings(settings) => next.settings = settings.clone(),
                MetaUpdate::Key(Role::Owner, hash) => next.owner = *hash,
                MetaUpdate::Key(_, hash) => next.staff = *hash,
            }
            tables
                .meta
                .insert(name.as_str(), encode(&next).as_str())
                .map_err(fault)?;
            Ok(next.rev)
        }
        MetaJob::Delete { key } => {
            let owned = owner_of(current, key)?;
            tables.meta.remove(name.as_str()).map_err(fault)?;
            tables.counters.remove(name.as_str()).map_err(fault)?;
            tables
                .history
                .retain_in((name.as_str(), 0)..=(name.as_str(), u64::MAX), |_, _| false)
                .map_err(fault)?;
            remove_ops(&mut tables.ops, name)?;
            remove_ops(&mut tables.undo, name)?;
            Ok(owned.rev)
        }
    }
}

/// The counter's meta when `key` is its owner's, else the refusal.
fn owner_of(current: Option<Owned>, key: &KeyHash) -> Result<Owned, StoreError> {
    let owned = current.ok_or(StoreError::NotFound)?;
    match owned.role(Some(key)) {
        Role::Owner => Ok(owned),
        Role::Staff => Err(StoreError::Forbidden),
        Role::Viewer => Err(StoreError::Unauthorized),
    }
}

/// Every row of a table keyed by (counter, op_id) that belongs to `name`.
fn remove_ops<V: redb::Value + 'static>(
    table: &mut Table<'_, (&'static str, &'static str), V>,
    name: &CounterName,
) -> Result<(), StoreError> {
    table
        .retain_in(
            (name.as_str(), "")..(name.as_str(), "\u{10FFFF}"),
            |_, _| false,
        )
        .map_err(fault)?;
    Ok(())
}

/// A revision above `previous`: microseconds since the epoch, as with Redis.
fn next_rev(previous: u64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64;
    now.max(previous + 1)
}

impl EmbeddedStore {
    pub async fn owned(&self, name: &CounterName) -> Result<Option<Owned>, StoreError> {
        let db = self.inner.db.clone();
        let name = name.clone();
        let read = run_blocking(move || {
            let txn = db.begin_read().map_err(fault)?;
            let meta = txn.open_table(META).map_err(fault)?;
            let row = meta.get(name.as_str()).map_err(fault)?;
            row.map(|json| decode(&name, json.value())).transpose()
        });
        within(self.inner.timeout, STORE, read).await
    }

    pub async fn create(
        &self,
        name: &CounterName,
        owned: &Owned,
        max_counters: u64,
    ) -> Result<u64, StoreError> {
        let job = MetaJob::Create {
            owned: owned.clone(),
            max: max_counters,
        };
        self.meta_job(name, job).await
    }

    pub async fn update(
        &self,
        name: &CounterName,
        key: &KeyHash,
        read: u64,
        update: &MetaUpdate,
    ) -> Result<u64, StoreError> {
        let job = MetaJob::Update {
            key: *key,
            read,
            update: update.clone(),
        };
        self.meta_job(name, job).await
    }

    pub async fn delete(&self, name: &CounterName, key: &KeyHash) -> Result<(), StoreError> {
        self.meta_job(name, MetaJob::Delete { key: *key })
            .await
            .map(|_| ())
    }

    /// One page of history; the cursor is the version of the page's last row.
    pub async fn history(
        &self,
        name: &CounterName,
        query: &HistoryQuery,
    ) -> Result<(Vec<HistoryEntry>, Option<String>), StoreError> {
        let after = match &query.after {
            None => None,
            Some(cursor) => Some(cursor.parse::<u64>().map_err(|_| {
                StoreError::BadRequest("before must be a cursor from an earlier page's next".into())
            })?),
        };
        let (db, name, query) = (self.inner.db.clone(), name.clone(), query.clone());
        let read = run_blocking(move || {
            let txn = db.begin_read().map_err(fault)?;
            let history = txn.open_table(HISTORY).map_err(fault)?;
            let key = name.as_str();
            let rows = if query.newest_first {
                let end = after.unwrap_or(u64::MAX);
                let range = history.range((key, 0)..(key, end)).map_err(fault)?;
                collect(range.rev(), query.limit)?
            } else {
                let start = after.map_or(0, |after| after.saturating_add(1));
                let range = history
                    .range((key, start)..=(key, u64::MAX))
                    .map_err(fault)?;
                collect(range, query.limit)?
            };
            let next = (rows.len() == query.limit)
                .then(|| rows.last().map(|entry| entry.version.to_string()))
                .flatten();
            Ok((rows, next))
        });
        within(self.inner.timeout, STORE, read).await
    }
}

type HistoryGuard<'a> = (
    redb::AccessGuard<'a, (&'static str, u64)>,
    redb::AccessGuard<'a, HistoryRow>,
);

fn collect<'a>(
    rows: impl Iterator<Item = Result<HistoryGuard<'a>, redb::StorageError>>,
    limit: usize,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let text = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    rows.take(limit)
        .map(|row| {
            let (key, row) = row.map_err(fault)?;
            let (at, kind, delta, value, op_id, label) = row.value();
            Ok(HistoryEntry {
                at: rfc3339(at),
                kind: ChangeKind::parse(kind).unwrap_or(ChangeKind::Increment),
                delta,
                value,
                version: key.value().1,
                op_id: text(op_id),
                label: text(label),
            })
        })
        .collect()
}
