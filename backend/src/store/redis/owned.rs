//! Version 2 on Redis: an owned counter's meta hash (`counter:{name}:meta`: settings, key
//! hashes, revision), its creation, update and deletion (one script each, every check
//! before the first write), and reading its history stream (`counter:{name}:log`).

use std::collections::HashMap;

use shared::{ChangeKind, CounterName, HistoryEntry, Role, Settings};

use super::{RedisStore, refusal_of};
use crate::access::{KeyHash, Owned};
use crate::store::history::rfc3339;
use crate::store::primary::Primary;
use crate::store::{HistoryQuery, MetaUpdate, StoreError};

impl RedisStore {
    /// The counter's meta, `None` when it is not owned. A meta hash that is not as the
    /// scripts write it is damage, reported as such.
    pub async fn owned(&self, name: &CounterName) -> Result<Option<Owned>, StoreError> {
        let key = self.inner.keys.meta(name);
        let mut conn = self.connection(Primary::commands).await?;
        let command = redis::cmd("HGETALL").arg(&key).clone();
        let read = command.query_async(&mut conn);
        let fields: HashMap<String, String> = match self.bounded(read).await {
            Err(StoreError::Unavailable(detail)) if detail.contains("WRONGTYPE") => {
                return Err(StoreError::Damaged {
                    counter: name.clone(),
                    key,
                    why: "holds another type than a hash".into(),
                });
            }
            read => read?,
        };
        if fields.is_empty() {
            return Ok(None);
        }
        let damaged = |why: &str| StoreError::Damaged {
            counter: name.clone(),
            key: key.clone(),
            why: why.to_owned(),
        };
        let hash = |field: &str| fields.get(field).and_then(|hex| KeyHash::from_hex(hex));
        let number = |field: &str| -> Result<Option<u64>, StoreError> {
            fields
                .get(field)
                .map(|text| {
                    text.parse()
                        .map_err(|_| damaged("holds a field that is not a number"))
                })
                .transpose()
        };
        let (Some(owner), Some(staff)) = (hash("owner"), hash("staff")) else {
            return Err(damaged("lacks a key hash"));
        };
        Ok(Some(Owned {
            settings: Settings {
                title: fields.get("title").cloned(),
                capacity: number("capacity")?,
                warn_at: number("warn_at")?,
            },
            owner,
            staff,
            rev: number("rev")?.ok_or_else(|| damaged("lacks its revision"))?,
        }))
    }

    /// Creates an owned counter within `--max-counters`. On one server `create.lua` checks
    /// the bound and adds the name to the set of owned counters in the same step. On a
    /// Redis Cluster that set lies in another slot than the counter's keys, so the name
    /// first takes a place in it (`reserve.lua`: check and add in one step, so concurrent
    /// creates never overshoot the bound), then `create.lua` runs without the set, and a
    /// create it refuses gives its place back. What that leaves:
    /// - a create whose outcome is unknown (no answer in time) keeps its place, as does one
    ///   whose replica died between the two steps: the set then names a counter that does
    ///   not exist, which counts against the bound (never past it) until that name is
    ///   created and deleted, or an operator removes it (`SREM counter::owned NAME`);
    /// - a create racing another create of the same name runs its script too (the name is
    ///   "member"), so a place left by a dead replica does not block its name forever;
    /// - a delete racing a create of the same name can remove the new counter's name: the
    ///   set then counts one counter fewer than exist.
    pub async fn create(
        &self,
        name: &CounterName,
        owned: &Owned,
        max_counters: u64,
    ) -> Result<u64, StoreError> {
        let keys = &self.inner.keys;
        let reserved = match self.is_cluster() {
            true => Some(self.reserve(name, max_counters).await?),
            false => None,
        };
        let mut call = self.inner.scripts.create.prepare_invoke();
        call.key(keys.value(name))
            .key(keys.version(name))
            .key(keys.meta(name))
            .key(keys.log(name));
        if reserved.is_none() {
            call.key(keys.owned());
        }
        call.arg(name.as_str())
            .arg(max_counters)
            .arg(owned.owner.hex())
            .arg(owned.staff.hex())
            .arg(owned.settings.title.as_deref().unwrap_or_default())
            .arg(
                owned
                    .settings
                    .capacity
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            )
            .arg(keys.events(name))
            .arg(self.publish_command());
        let created = async {
            let mut conn = self.connection(Primary::commands).await?;
            let reply: Vec<String> = self.bounded(call.invoke_async(&mut conn)).await?;
            revision_of(name, &keys.meta(name), &reply)
        }
        .await;
        match (&created, reserved) {
            // A refusal wrote nothing; an outage may have created the counter after all.
            (Err(err), Some(Reserved::Added)) if !matches!(err, StoreError::Unavailable(_)) => {
                self.give_back(name).await;
            }
            _ => {}
        }
        created
    }

    /// Redis Cluster: takes a place for `name` in the set of owned counters
    /// (`lua/reserve.lua`).
    async fn reserve(&self, name: &CounterName, max_counters: u64) -> Result<Reserved, StoreError> {
        let owned_key = self.inner.keys.owned();
        let mut call = self.inner.scripts.reserve.prepare_invoke();
        call.key(&owned_key).arg(name.as_str()).arg(max_counters);
        let mut conn = self.connection(Primary::commands).await?;
        let reply: Vec<String> = self.bounded(call.invoke_async(&mut conn)).await?;
        match reply.first().map(String::as_str) {
            Some("added") => Ok(Reserved::Added),
            Some("member") => Ok(Reserved::Member),
            Some(word) => Err(refused(name, &owned_key, word, &reply)),
            None => Err(refused(name, &owned_key, "", &reply)),
        }
    }

    /// Redis Cluster: gives back the place a refused create took, unless the counter exists
    /// after all (another create of the same name made it meanwhile). A failure leaves the
    /// place taken: the bound is then one lower, never exceeded.
    async fn give_back(&self, name: &CounterName) {
        let keys = &self.inner.keys;
        let result = async {
            let mut conn = self.connection(Primary::commands).await?;
            let exists = redis::cmd("EXISTS").arg(keys.meta(name)).clone();
            if self.bounded(exists.query_async::<u64>(&mut conn)).await? > 0 {
                return Ok(());
            }
            let remove = redis::cmd("SREM")
                .arg(keys.owned())
                .arg(name.as_str())
                .clone();
            self.bounded(remove.query_async::<u64>(&mut conn)).await?;
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(err) = result {
            tracing::warn!(counter = %name, error = %err, "a refused create keeps its place among the owned counters");
        }
    }

    pub async fn update(
        &self,
        name: &CounterName,
        key: &KeyHash,
        read: u64,
        update: &MetaUpdate,
    ) -> Result<u64, StoreError> {
        let keys = &self.inner.keys;
        let (mut set, mut remove) = (Vec::new(), Vec::new());
        match update {
            MetaUpdate::Settings(settings) => {
                let fields = [
                    ("title", settings.title.clone()),
                    ("capacity", settings.capacity.map(|c| c.to_string())),
                    ("warn_at", settings.warn_at.map(|w| w.to_string())),
                ];
                for (field, value) in fields {
                    match value {
                        Some(value) => set.push((field, value)),
                        None => remove.push(field),
                    }
                }
            }
            MetaUpdate::Key(role, hash) => {
                let field = if *role == Role::Owner {
                    "owner"
                } else {
                    "staff"
                };
                set.push((field, hash.hex()));
            }
        }
        let mut call = self.inner.scripts.update.prepare_invoke();
        call.key(keys.meta(name))
            .arg(key.hex())
            .arg(read)
            .arg(keys.events(name))
            .arg(self.publish_command())
            .arg(set.len());
        for (field, value) in &set {
            call.arg(*field).arg(value);
        }
        for field in remove {
            call.arg(field);
        }
        let mut conn = self.connection(Primary::commands).await?;
        let reply: Vec<String> = self.bounded(call.invoke_async(&mut conn)).await?;
        revision_of(name, &keys.meta(name), &reply)
    }

    pub async fn delete(&self, name: &CounterName, key: &KeyHash) -> Result<(), StoreError> {
        let keys = &self.inner.keys;
        let mut call = self.inner.scripts.delete.prepare_invoke();
        call.key(keys.value(name))
            .key(keys.version(name))
            .key(keys.meta(name))
            .key(keys.log(name))
            .key(keys.presence(name));
        // On a Redis Cluster the set of owned counters lies in another slot: the name leaves
        // it after the script (see `create`).
        let cluster = self.is_cluster();
        if !cluster {
            call.key(keys.owned());
        }
        call.arg(key.hex())
            .arg(name.as_str())
            .arg(keys.events(name))
            .arg(self.publish_command());
        let mut conn = self.connection(Primary::commands).await?;
        let reply: Vec<String> = self.bounded(call.invoke_async(&mut conn)).await?;
        match reply.first().map(String::as_str) {
            Some("ok") => {}
            Some(word) => return Err(refused(name, &keys.meta(name), word, &reply)),
            None => return Err(refused(name, &keys.meta(name), "", &reply)),
        }
        if cluster {
            // The counter is gone; a failure here leaves its place taken (the bound one
            // lower), and the owner is answered as for a completed delete.
            let remove = redis::cmd("SREM")
                .arg(keys.owned())
                .arg(name.as_str())
                .clone();
            if let Err(err) = self.bounded(remove.query_async::<u64>(&mut conn)).await {
                tracing::warn!(counter = %name, error = %err, "a deleted counter keeps its place among the owned counters");
            }
        }
        // The dedupe records go after the script (a script cannot scan): they would
        // answer a retry on a counter created later under the same name. They expire by
        // themselves in any case, so a failure here is only logged.
        if let Err(err) = self.remove_op_records(name).await {
            tracing::warn!(counter = %name, error = %err, "dedupe records of a deleted counter left to expire");
        }
        Ok(())
    }

    async fn remove_op_records(&self, name: &CounterName) -> Result<(), StoreError> {
        let pattern = self.inner.keys.op_pattern(name);
        let mut cursor = 0u64;
        loop {
            let mut conn = self.connection(Primary::commands).await?;
            let scan = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .clone();
            // On a cluster the records lie on the node of the counter's slot.
            let (next, found) = self
                .bounded(conn.query_where::<(u64, Vec<String>)>(&scan, &pattern))
                .await?;
            if !found.is_empty() {
                let unlink = redis::cmd("UNLINK").arg(&found).clone();
                self.bounded(unlink.query_async::<u64>(&mut conn)).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// One page of the history stream: `XREVRANGE` newest first, `XRANGE` oldest first,
    /// after the cursor (a stream ID) exclusive.
    pub async fn history(
        &self,
        name: &CounterName,
        query: &HistoryQuery,
    ) -> Result<(Vec<HistoryEntry>, Option<String>), StoreError> {
        if let Some(cursor) = &query.after
            && !is_stream_id(cursor)
        {
            return Err(StoreError::BadRequest(
                "before must be a cursor from an earlier page's next".into(),
            ));
        }
        let key = self.inner.keys.log(name);
        let command = if query.newest_first {
            let start = query
                .after
                .as_ref()
                .map_or("+".to_owned(), |c| format!("({c}"));
            redis::cmd("XREVRANGE")
                .arg(&key)
                .arg(start)
                .arg("-")
                .arg("COUNT")
                .arg(query.limit)
                .clone()
        } else {
            let start = query
                .after
                .as_ref()
                .map_or("-".to_owned(), |c| format!("({c}"));
            redis::cmd("XRANGE")
                .arg(&key)
                .arg(start)
                .arg("+")
                .arg("COUNT")
                .arg(query.limit)
                .clone()
        };
        let mut conn = self.connection(Primary::commands).await?;
        let reply: Vec<(String, HashMap<String, String>)> =
            self.bounded(command.query_async(&mut conn)).await?;
        let full = reply.len() == query.limit;
        let next = full
            .then(|| reply.last().map(|(id, _)| id.clone()))
            .flatten();
        let damaged = || StoreError::Damaged {
            counter: name.clone(),
            key: key.clone(),
            why: "holds an entry the change script did not write".into(),
        };
        let entries = reply
            .into_iter()
            .map(|(id, fields)| entry_of(&id, &fields).ok_or_else(damaged))
            .collect::<Result<_, _>>()?;
        Ok((entries, next))
    }
}

/// What `lua/reserve.lua` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reserved {
    /// The name took a free place.
    Added,
    /// The name had a place already (its counter exists, or its create is under way).
    Member,
}

/// A script's `{'ok', rev}`, or its refusal.
fn revision_of(name: &CounterName, key: &str, reply: &[String]) -> Result<u64, StoreError> {
    match reply {
        [ok, rev] if ok == "ok" => rev.parse().map_err(|_| StoreError::Damaged {
            counter: name.clone(),
            key: key.to_owned(),
            why: "holds a revision that is not a number".into(),
        }),
        [word, ..] => Err(refused(name, key, word, reply)),
        [] => Err(refused(name, key, "", reply)),
    }
}

fn refused(name: &CounterName, key: &str, word: &str, reply: &[String]) -> StoreError {
    if let Some(err) = refusal_of(word) {
        return err;
    }
    match reply {
        [tag, key, why] if tag == "damaged" => StoreError::Damaged {
            counter: name.clone(),
            key: key.clone(),
            why: why.clone(),
        },
        _ => StoreError::Damaged {
            counter: name.clone(),
            key: key.to_owned(),
            why: format!("the script answered {reply:?}"),
        },
    }
}

/// Whether `text` is a stream ID (`ms-seq`), the only cursor a page gives.
fn is_stream_id(text: &str) -> bool {
    text.split_once('-').is_some_and(|(ms, seq)| {
        !ms.is_empty()
            && !seq.is_empty()
            && ms.len() <= 20
            && seq.len() <= 20
            && ms.bytes().chain(seq.bytes()).all(|b| b.is_ascii_digit())
    })
}

/// A history entry from its stream ID (whose first part is the time in milliseconds) and
/// the fields apply.lua writes.
fn entry_of(id: &str, fields: &HashMap<String, String>) -> Option<HistoryEntry> {
    let at: u64 = id.split_once('-')?.0.parse().ok()?;
    let text = |field: &str| fields.get(field).filter(|text| !text.is_empty()).cloned();
    Some(HistoryEntry {
        at: rfc3339(at),
        kind: ChangeKind::parse(fields.get("k")?)?,
        delta: fields.get("d")?.parse().ok()?,
        value: fields.get("v")?.parse().ok()?,
        version: fields.get("n")?.parse().ok()?,
        op_id: text("o"),
        label: text("l"),
    })
}
