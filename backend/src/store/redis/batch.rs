//! Many counters in one round trip. The reconcile and the presence update each cover every
//! counter a replica serves, which can be thousands; one call after another, a round took
//! as many round trips. Here a chunk of counters is one pipeline, and chunks follow one
//! another, so a change sent on the shared connection meanwhile waits behind one chunk at
//! most.
//!
//! Every counter keeps its own commands, and so its own answer: a damaged key, or a repair
//! Redis refuses, fails that counter and no other. Only a failure of the connection itself
//! (or its deadline) fails a batch.
//!
//! On a Redis Cluster a pipeline must stay within one slot, and every counter has its own:
//! there the same calls go as concurrent single commands over the cluster connection, which
//! pipelines those bound for one node by itself. Each still keeps its own answer; the batch
//! fails only when every call failed for want of an answer.
//!
//! A Lua call costs Redis several microseconds, a plain read a fraction of one, so the
//! common case takes no script: a counter whose keys hold exactly the state this replica
//! knows is read with two GETs, and a presence total is read with HGETALL; only a counter
//! that needs more runs its script.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::join_all;
use redis::{Cmd, FromRedisValue, Script, ScriptInvocation, Value};
use shared::{CounterName, CounterState};

use super::{Connection, RedisStore, state_of, store_error};
use crate::store::primary::Primary;
use crate::store::{Presence, StoreError};

/// Counters per pipeline: 256 counters keep Redis busy for about a millisecond at worst
/// (every one running its script), the longest a change on the shared connection waits
/// behind a batch.
const CHUNK: usize = 256;

/// How long a replica's presence record outlives its last refresh: over three refreshes
/// ([`PRESENCE_REFRESH`](crate::store::PRESENCE_REFRESH)), so one slow round does not drop
/// it, while a replica that died stops counting within seconds.
const PRESENCE_TTL: Duration = Duration::from_secs(10);

/// One answer per counter, in the order the counters were given.
pub type PerCounter<T> = Vec<Result<T, StoreError>>;

/// A counter a replica serves: its name, the newest state it knows, and whether it knows
/// the counter as owned (then a missing meta hash means it was deleted).
pub type Served = (CounterName, Option<CounterState>, bool);

impl RedisStore {
    /// [`RedisStore::reconcile`] for many counters, each with the newest state this replica
    /// knows of it. `Err` only when Redis could not be reached.
    pub async fn reconcile_many(
        &self,
        counters: &[Served],
    ) -> Result<PerCounter<CounterState>, StoreError> {
        let mut states = Vec::with_capacity(counters.len());
        for chunk in counters.chunks(CHUNK) {
            let unchanged = self.unchanged(chunk).await?;
            let calls: Vec<_> = chunk
                .iter()
                .zip(&unchanged)
                .filter(|(_, same)| !**same)
                .map(|((name, known, owned), _)| {
                    self.reconcile_invocation(name, known.as_ref(), *owned)
                })
                .collect();
            let mut replies = if calls.is_empty() {
                Vec::new()
            } else {
                self.pipelined::<Vec<String>>(&self.inner.scripts.reconcile, calls)
                    .await?
            }
            .into_iter();
            for ((name, known, _), same) in chunk.iter().zip(unchanged) {
                states.push(match known {
                    Some(state) if same => Ok(state.clone()),
                    _ => match replies.next() {
                        Some(reply) => {
                            reply.and_then(|reply| state_of(&self.inner.keys, name, &reply))
                        }
                        None => Err(StoreError::Unavailable(
                            "Redis answered too few calls".into(),
                        )),
                    },
                });
            }
        }
        Ok(states)
    }

    /// Which counters of `chunk` hold exactly the state this replica knows, as the scripts
    /// write it. For those the reconcile script would change nothing and answer that state,
    /// so it need not run; everything else (another value, a missing or damaged key, an
    /// unknown state) is left to it, the one judge of what a key holds.
    async fn unchanged(&self, chunk: &[Served]) -> Result<Vec<bool>, StoreError> {
        let keys = &self.inner.keys;
        let mut calls = Vec::new();
        for (name, _, owned) in chunk.iter().filter(|(_, known, _)| known.is_some()) {
            calls.push(Call::Command(
                redis::cmd("GET").arg(keys.value(name)).clone(),
            ));
            calls.push(Call::Command(
                redis::cmd("GET").arg(keys.version(name)).clone(),
            ));
            // An owned counter is unchanged only while it exists: a deletion whose event
            // this replica missed is the script's to report.
            if *owned {
                calls.push(Call::Command(
                    redis::cmd("EXISTS").arg(keys.meta(name)).clone(),
                ));
            }
        }
        let mut replies = self.batch(None, calls).await?.into_iter().map(Result::ok);
        Ok(chunk
            .iter()
            .map(|(_, known, owned)| {
                let Some(state) = known else { return false };
                let value = holds(replies.next(), &state.value.to_string());
                let version = holds(replies.next(), &state.version.to_string());
                let exists = !owned || matches!(replies.next(), Some(Some(Value::Int(1))));
                value && version && exists
            })
            .collect())
    }

    /// Records this replica's sockets on the counters whose count is to be recorded
    /// (`lua/presence.lua`), and returns every counter's total over all live replicas. `Err`
    /// only when Redis could not be reached.
    pub async fn presence_many(&self, counts: &[Presence]) -> Result<PerCounter<u64>, StoreError> {
        let mut totals = Vec::with_capacity(counts.len());
        for chunk in counts.chunks(CHUNK) {
            let script = &self.inner.scripts.presence;
            // As in `pipelined`: Redis may have forgotten the script.
            let load = chunk.iter().any(|count| count.record).then_some(script);
            // On a cluster TIME comes from any one node, and the records' expiries from
            // their counters' nodes: their clocks must agree within the records' lifetime
            // (seconds), as NTP keeps them.
            let mut calls = vec![Call::Command(redis::cmd("TIME"))];
            for count in chunk {
                if count.record {
                    let mut call = script.prepare_invoke();
                    call.key(self.inner.keys.presence(&count.name))
                        .arg(&self.inner.replica_id)
                        .arg(count.local)
                        .arg(PRESENCE_TTL.as_millis() as u64);
                    calls.push(Call::Script(call));
                }
                let key = self.inner.keys.presence(&count.name);
                calls.push(Call::Command(redis::cmd("HGETALL").arg(key).clone()));
            }
            let mut replies = self.batch(load, calls).await?.into_iter();
            let now_ms = match replies.next().map(answer::<(u64, u64)>) {
                Some(Ok((seconds, micros))) => seconds * 1000 + micros / 1000,
                _ => {
                    return Err(StoreError::Unavailable(
                        "Redis did not tell the time".into(),
                    ));
                }
            };
            for count in chunk {
                let recorded = match count.record {
                    true => replies.next().map(answer::<Value>),
                    false => Some(Ok(Value::Nil)),
                };
                let fields = replies.next().map(answer::<HashMap<String, String>>);
                totals.push(match (recorded, fields) {
                    (Some(Ok(_)), Some(Ok(fields))) => Ok(live_total(&fields, now_ms)),
                    (Some(Err(err)), _) | (_, Some(Err(err))) => Err(err),
                    _ => Err(StoreError::Unavailable(
                        "Redis answered too few calls".into(),
                    )),
                });
            }
        }
        Ok(totals)
    }

    /// Sends `calls` of `script` as one batch and reads each answer on its own.
    async fn pipelined<T: FromRedisValue>(
        &self,
        script: &Script,
        calls: Vec<ScriptInvocation<'_>>,
    ) -> Result<PerCounter<T>, StoreError> {
        let calls = calls.into_iter().map(Call::Script).collect();
        let replies = self.batch(Some(script), calls).await?;
        Ok(replies.into_iter().map(answer).collect())
    }

    /// Sends `calls` and returns every call's own answer, an error included, instead of one
    /// error failing them all. `Err` only when Redis could not be reached.
    ///
    /// One server: one pipeline, which begins by loading `load`, as `invoke_async` loads a
    /// script Redis answers NOSCRIPT for: Redis forgets scripts on a restart or a `SCRIPT
    /// FLUSH`, and loading a script it has costs Redis a hash of the text. A cluster:
    /// concurrent single calls, each script call with `invoke_async`'s own reload.
    async fn batch(
        &self,
        load: Option<&Script>,
        calls: Vec<Call<'_>>,
    ) -> Result<Vec<Result<Value, StoreError>>, StoreError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.connection(Primary::commands).await?;
        let replies = match conn {
            Connection::Server(_) => {
                let mut pipe = redis::pipe();
                if let Some(script) = load {
                    pipe.load_script(script).ignore();
                }
                for call in &calls {
                    match call {
                        Call::Command(cmd) => pipe.add_command(cmd.clone()),
                        Call::Script(invocation) => pipe.invoke_script(invocation),
                    };
                }
                pipe.ignore_errors();
                let mut conn = conn;
                let replies: Vec<Value> = self.bounded(pipe.query_async(&mut conn)).await?;
                replies
                    .into_iter()
                    .map(|reply| match reply {
                        Value::ServerError(err) => Err(store_error(err.into())),
                        reply => Ok(reply),
                    })
                    .collect::<Vec<_>>()
            }
            Connection::Cluster(_) => {
                let each = calls.iter().map(|call| {
                    let mut conn = conn.clone();
                    async move {
                        match call {
                            Call::Command(cmd) => cmd.query_async::<Value>(&mut conn).await,
                            Call::Script(invocation) => invocation.invoke_async(&mut conn).await,
                        }
                    }
                });
                let all = async { Ok(join_all(each).await) };
                let replies = super::super::within(self.inner.timeout, "Redis", all).await?;
                // Every call without an answer from any node: the cluster is out of reach.
                if let Some(Err(err)) = replies.first()
                    && replies
                        .iter()
                        .all(|reply| matches!(reply, Err(err) if err.code().is_none()))
                {
                    self.inner.nodes.nudge();
                    return Err(StoreError::Unavailable(err.to_string()));
                }
                replies
                    .into_iter()
                    .map(|reply| reply.map_err(store_error))
                    .collect()
            }
        };
        if replies.len() != calls.len() {
            return Err(StoreError::Unavailable(format!(
                "Redis answered {} of {} calls",
                replies.len(),
                calls.len()
            )));
        }
        Ok(replies)
    }
}

/// One call of a batch.
enum Call<'a> {
    /// A plain command.
    Command(Cmd),
    /// A script's `EVALSHA`.
    Script(ScriptInvocation<'a>),
}

/// One call's answer in a batch: its value, or what its error means (a refused write, or a
/// fault of Redis that the next round retries).
fn answer<T: FromRedisValue>(reply: Result<Value, StoreError>) -> Result<T, StoreError> {
    T::from_redis_value(reply?)
        .map_err(|err| StoreError::Unavailable(format!("unexpected answer: {err}")))
}

/// Whether a GET answered `expected`, as the scripts read a key: a missing key is `0`.
fn holds(reply: Option<Option<Value>>, expected: &str) -> bool {
    match reply.flatten() {
        Some(Value::Nil) => expected == "0",
        Some(Value::BulkString(bytes)) => bytes == expected.as_bytes(),
        _ => false,
    }
}

/// The sockets on a counter over all live replicas: the sum of its presence hash's records
/// (`count:expires_at_ms`, as `lua/presence.lua` writes them) that have not expired at
/// `now_ms`. Expired records are the script's to delete.
fn live_total(fields: &HashMap<String, String>, now_ms: u64) -> u64 {
    fields
        .values()
        .filter_map(|record| {
            let (count, expires) = record.split_once(':')?;
            let expires: u64 = expires.parse().ok()?;
            (expires >= now_ms).then(|| count.parse::<u64>().ok())?
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_records_not_expired_count() {
        let fields = HashMap::from([
            ("live".to_owned(), "3:2000".to_owned()),
            ("just-live".to_owned(), "2:1000".to_owned()),
            ("expired".to_owned(), "5:999".to_owned()),
            ("garbled".to_owned(), "7".to_owned()),
            ("bad-count".to_owned(), "x:5000".to_owned()),
        ]);
        assert_eq!(live_total(&fields, 1000), 5);
        assert_eq!(live_total(&HashMap::new(), 1000), 0);
    }

    #[test]
    fn a_key_holds_a_state_only_as_the_scripts_write_it() {
        let bulk = |text: &str| Some(Some(Value::BulkString(text.as_bytes().to_vec())));
        assert!(holds(bulk("17"), "17"));
        assert!(
            holds(Some(Some(Value::Nil)), "0"),
            "a missing key reads as 0"
        );
        assert!(!holds(Some(Some(Value::Nil)), "17"));
        assert!(
            !holds(bulk("017"), "17"),
            "the script would call it damaged"
        );
        assert!(!holds(bulk("+17"), "17"));
        assert!(!holds(None, "0"), "no answer is no proof");
        assert!(!holds(Some(None), "0"), "an error is no proof");
        assert!(!holds(Some(Some(Value::Okay)), "0"));
    }
}
