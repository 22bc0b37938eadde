//! The Redis store: every change is one EVALSHA of `lua/apply.lua` over one multiplexed
//! connection per replica; changes reach other replicas through Redis pub/sub, which the
//! fan-out's subscriber follows (`fanout/subscriber.rs`). The connections go to the primary
//! of one server or of a Sentinel-watched group, and follow it (`primary.rs`), or to a Redis
//! Cluster (`cluster.rs`).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManagerConfig;
use redis::{Client, RedisError, Script, ScriptInvocation, TlsCertificates};
use shared::{CounterName, CounterState};

use super::cluster::{ClusterNodes, Connection, Nodes};
use super::keys::Keys;
use super::primary::Primary;
use super::redis_target::RedisTarget;
use super::replica_wait::{GroupedChanges, ReplicaWait};
use super::{Applied, Credential, StoreError, Write};

mod batch;
mod owned;

pub use self::batch::{PerCounter, Served};

/// The script that applies one change (dedupe, increment, version, publish), as Redis runs
/// it. Both scripts that read a counter begin with the one function that builds the state
/// message and the readers that judge its keys. Public so that the benchmark runs
/// `redis-benchmark` on exactly this text.
pub const APPLY_SCRIPT: &str = concat!(
    include_str!("lua/publish_state.lua"),
    include_str!("lua/stored.lua"),
    include_str!("lua/apply.lua")
);

/// The script that re-reads a counter and republishes it when it changed behind our back.
const RECONCILE_SCRIPT: &str = concat!(
    include_str!("lua/publish_state.lua"),
    include_str!("lua/stored.lua"),
    include_str!("lua/reconcile.lua")
);

/// Version 2's scripts for an owned counter's meta: create, update (settings, key
/// rotation), delete. Each judges keys with stored.lua's readers.
const CREATE_SCRIPT: &str = concat!(
    include_str!("lua/stored.lua"),
    include_str!("lua/create.lua")
);
const UPDATE_SCRIPT: &str = concat!(
    include_str!("lua/stored.lua"),
    include_str!("lua/update.lua")
);
/// Redis Cluster only: a place in the set of owned counters, taken before `create.lua`
/// (`redis/owned.rs`).
const RESERVE_SCRIPT: &str = concat!(
    include_str!("lua/stored.lua"),
    include_str!("lua/reserve.lua")
);
const DELETE_SCRIPT: &str = concat!(
    include_str!("lua/stored.lua"),
    include_str!("lua/delete.lua")
);

/// The scripts, loaded once per connection and called by SHA; `redis::Script` reloads a
/// script by itself when Redis answers NOSCRIPT (after a restart or `SCRIPT FLUSH`).
struct Scripts {
    /// `lua/apply.lua`: one change, deduped, versioned and published.
    apply: Script,
    /// `lua/reconcile.lua`: a read that repairs the version of a value changed by hand.
    reconcile: Script,
    /// `lua/presence.lua`: records this replica's sockets on a counter.
    presence: Script,
    /// `lua/create.lua`, `lua/update.lua`, `lua/delete.lua`: an owned counter's meta.
    create: Script,
    update: Script,
    delete: Script,
    /// `lua/reserve.lua`: on a Redis Cluster, the bound of owned counters.
    reserve: Script,
}

/// A Redis-backed store, shared by every request of one replica.
#[derive(Clone)]
pub struct RedisStore {
    /// Shared by every clone: one set of connections per replica.
    inner: Arc<Inner>,
}

struct Inner {
    /// The primary's connections (the command connection, and the subscriber's client),
    /// which follow a failover; or the cluster's connection.
    nodes: Nodes,
    /// Key and channel names.
    keys: Keys,
    /// The Lua scripts every operation runs.
    scripts: Scripts,
    /// Names this replica's field in presence hashes; unique per process start.
    replica_id: String,
    /// How long an `op_id` record lives.
    op_ttl: Duration,
    /// Longest wait for one command before answering `unavailable`.
    timeout: Duration,
    /// Replicas that must hold a change before its ack (`--redis-wait-replicas`), if any,
    /// and the task that sends such changes in groups, one `WAIT` per group.
    wait: Option<(ReplicaWait, GroupedChanges)>,
    /// History entries kept per counter (`--history-limit`).
    history_limit: u64,
}

/// Where Redis is: `--redis-url` or `--redis-cluster-nodes`.
#[derive(Clone, Copy, Debug)]
pub enum RedisAt<'a> {
    /// `--redis-url`: one server, or `redis+sentinel://` sentinels and a master name.
    Url(&'a str),
    /// `--redis-cluster-nodes`: seed nodes of a Redis Cluster.
    Cluster(&'a [String]),
}

/// Where Redis is and how the replica talks to it (`--redis-*` flags).
pub struct RedisSettings<'a> {
    /// `--redis-url` or `--redis-cluster-nodes`.
    pub at: RedisAt<'a>,
    /// `--redis-ca-file`, for `rediss://`.
    pub ca_file: Option<&'a Path>,
    /// `--key-prefix`.
    pub key_prefix: &'a str,
    /// `--op-ttl-seconds`.
    pub op_ttl: Duration,
    /// `--store-timeout-ms`.
    pub timeout: Duration,
    /// `--redis-wait-replicas` and `--redis-wait-timeout-ms`, when the first is not 0.
    pub wait: Option<ReplicaWait>,
    /// `--history-limit`.
    pub history_limit: u64,
}

impl RedisStore {
    /// Prepares the connection without waiting for Redis, so a replica starts (not ready)
    /// while Redis is down and becomes ready when it appears.
    pub fn new(settings: RedisSettings<'_>) -> Result<Self, RedisError> {
        let url = match settings.at {
            RedisAt::Url(url) => url,
            RedisAt::Cluster(seeds) => {
                if settings.ca_file.is_some() || settings.wait.is_some() {
                    return Err(RedisError::from((
                        redis::ErrorKind::InvalidClientConfig,
                        "--redis-ca-file and --redis-wait-replicas are not supported with \
                         --redis-cluster-nodes",
                    )));
                }
                let cluster = ClusterNodes::new(seeds, settings.timeout)?;
                return Ok(Self::with_nodes(
                    Nodes::Cluster(Arc::new(cluster)),
                    None,
                    &settings,
                ));
            }
        };
        let target = match (RedisTarget::parse(url)?, settings.ca_file) {
            (RedisTarget::Server(_), Some(path)) => {
                let root_cert = std::fs::read(path).map_err(|err| {
                    RedisError::from((
                        redis::ErrorKind::InvalidClientConfig,
                        "cannot read the Redis CA file",
                        err.to_string(),
                    ))
                })?;
                let certificates = TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                };
                RedisTarget::Server(Client::build_with_tls(url, certificates)?)
            }
            (RedisTarget::Sentinel(_), Some(_)) => {
                return Err(RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "--redis-ca-file is for rediss:// URLs, not redis+sentinel://",
                )));
            }
            (target, None) => target,
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            // Fail the request fast and try again on the next one, rather than queueing
            // requests behind a long retry loop while Redis is away.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let primary = Arc::new(Primary::new(
            target,
            config,
            settings.wait.is_some(),
            settings.timeout,
        )?);
        let wait = settings.wait.map(|wait| {
            let script = Script::new(APPLY_SCRIPT);
            (wait, GroupedChanges::start(wait, primary.clone(), script))
        });
        Ok(Self::with_nodes(Nodes::Primary(primary), wait, &settings))
    }

    fn with_nodes(
        nodes: Nodes,
        wait: Option<(ReplicaWait, GroupedChanges)>,
        settings: &RedisSettings<'_>,
    ) -> Self {
        let replica_id = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        );
        Self {
            inner: Arc::new(Inner {
                nodes,
                keys: Keys::new(settings.key_prefix),
                scripts: Scripts {
                    apply: Script::new(APPLY_SCRIPT),
                    reconcile: Script::new(RECONCILE_SCRIPT),
                    presence: Script::new(include_str!("lua/presence.lua")),
                    create: Script::new(CREATE_SCRIPT),
                    update: Script::new(UPDATE_SCRIPT),
                    delete: Script::new(DELETE_SCRIPT),
                    reserve: Script::new(RESERVE_SCRIPT),
                },
                history_limit: settings.history_limit.max(1),
                replica_id,
                op_ttl: settings.op_ttl,
                timeout: settings.timeout,
                wait,
            }),
        }
    }

    /// Opens the subscriber's own connection (pub/sub takes a connection over); `None`
    /// while Sentinel has named no primary yet.
    pub fn client(&self) -> Option<Client> {
        match &self.inner.nodes {
            Nodes::Primary(primary) => primary.client(),
            Nodes::Cluster(_) => None,
        }
    }

    /// Whether the store is a Redis Cluster: then changes are announced with `SPUBLISH` on
    /// each counter's channel (`counter:{name}`, `counter:{name}:events`), which a
    /// subscriber hears with `SSUBSCRIBE` on the node owning the channel's slot, and
    /// [`RedisStore::client`] is `None`.
    pub fn is_cluster(&self) -> bool {
        self.inner.nodes.is_cluster()
    }

    /// On a Redis Cluster, a builder for the subscriber's own cluster client: the same seed
    /// nodes, login, RESP3 and timeouts as the store's, and no push sender (the subscriber
    /// adds its own, `ClusterClientBuilder::push_sender`, and then `ssubscribe`s on the
    /// connection it gets). `None` on one server or Sentinel.
    pub fn cluster_subscriber_builder(&self) -> Option<redis::cluster::ClusterClientBuilder> {
        match &self.inner.nodes {
            Nodes::Primary(_) => None,
            Nodes::Cluster(cluster) => Some(cluster.builder()),
        }
    }

    /// Asks Sentinel for the primary again (when the replica follows one) and waits for the
    /// answer: the subscriber does before it subscribes again.
    pub async fn follow_primary(&self) {
        if let Nodes::Primary(primary) = &self.inner.nodes {
            primary.follow().await;
        }
    }

    /// Key and channel names, for the subscriber's pattern and channels.
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// The deadline of one Redis call, which the subscriber keeps too.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Runs one Redis call with the replica's deadline, so a hung Redis costs a bounded wait.
    /// A failure that can mean the primary moved (no answer, READONLY) asks Sentinel again
    /// in the background; the client is answered at once and retries.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        let call = async {
            call.await.map_err(|err| {
                if err.code() == Some("READONLY") {
                    self.inner.nodes.nudge();
                }
                store_error(err)
            })
        };
        let result = super::within(self.inner.timeout, "Redis", call).await;
        if let Err(StoreError::Unavailable(_)) = &result {
            self.inner.nodes.nudge();
        }
        result
    }

    /// A connection to the primary (`commands` for most calls, `changes` for changes), or
    /// to the cluster, opened within the replica's deadline.
    async fn connection(
        &self,
        pick: fn(&Primary) -> Option<redis::aio::ConnectionManager>,
    ) -> Result<Connection, StoreError> {
        let connect = async {
            self.inner
                .nodes
                .connection(pick)
                .await
                .map_err(StoreError::Unavailable)
        };
        super::within(self.inner.timeout, "Redis", connect).await
    }

    /// `PUBLISH` on one server, `SPUBLISH` on a cluster: the command the scripts announce a
    /// change with (see [`Nodes::publish_command`]).
    fn publish_command(&self) -> &'static str {
        self.inner.nodes.publish_command()
    }

    pub async fn apply(
        &self,
        name: &CounterName,
        write: &Write,
        credential: &Credential,
    ) -> Result<Applied, StoreError> {
        let keys = &self.inner.keys;
        let mut invocation = self.inner.scripts.apply.prepare_invoke();
        invocation
            .key(keys.value(name))
            .key(keys.version(name))
            .key(keys.meta(name))
            .key(keys.log(name));
        let op_id = write.op_id();
        if let Some(op_id) = op_id {
            invocation.key(keys.op(name, op_id));
        }
        let (delta, set_value) = match write {
            Write::Change(change) => (change.delta(), 0),
            Write::Set(set) => (0, set.value),
            Write::Undo(undo) => {
                invocation.key(keys.op(name, &undo.undoes));
                (0, 0)
            }
        };
        invocation
            .arg(delta)
            .arg(self.inner.op_ttl.as_secs().max(1))
            .arg(keys.channel(name))
            .arg(name.as_str())
            .arg(if credential.open { "1" } else { "0" })
            .arg(credential.key.map(|key| key.hex()).unwrap_or_default())
            .arg(write.kind().as_str())
            .arg(set_value)
            .arg(self.inner.history_limit)
            .arg(op_id.map(|id| id.as_str()).unwrap_or_default())
            .arg(write.label().unwrap_or_default())
            .arg(if op_id.is_some() { "1" } else { "0" })
            .arg(self.publish_command());
        let reply: Vec<String> = match &self.inner.wait {
            None => {
                let mut conn = self.connection(Primary::changes).await?;
                self.bounded(invocation.invoke_async(&mut conn)).await?
            }
            Some((wait, grouped)) => {
                let confirmed = self.bounded(grouped.apply(&invocation)).await?;
                let changed = matches!(
                    confirmed.reply.first().map(String::as_str),
                    Some("ok" | "dup")
                );
                if changed && confirmed.replicas < wait.replicas {
                    // Replicas missing may also mean this primary was replaced and lost its own.
                    self.inner.nodes.nudge();
                    return Err(StoreError::Unavailable(format!(
                        "{} of {} replicas confirmed the change within {:?}",
                        confirmed.replicas, wait.replicas, wait.timeout
                    )));
                }
                confirmed.reply
            }
        };
        let duplicate = match reply.first().map(String::as_str) {
            Some("dup") => true,
            Some("overflow") => return Err(StoreError::Overflow),
            Some("unknown_op") => return Err(StoreError::UnknownOp),
            Some("conflict") => {
                let why = reply.get(1).cloned().unwrap_or_default();
                return Err(StoreError::Conflict(why));
            }
            Some(refusal) => {
                if let Some(err) = refusal_of(refusal) {
                    return Err(err);
                }
                false
            }
            None => false,
        };
        Ok(Applied {
            state: state_of(keys, name, &reply)?,
            duplicate,
        })
    }

    pub async fn get(&self, name: &CounterName) -> Result<CounterState, StoreError> {
        self.reconcile(name, None, false).await
    }

    /// Reads a counter and, given the newest state this replica knows, repairs its version
    /// when the value moved behind the service's back (see `lua/reconcile.lua`). `owned`:
    /// the replica knows the counter as owned, so a missing meta means it was deleted
    /// (`NotFound`), and nothing is repaired.
    pub async fn reconcile(
        &self,
        name: &CounterName,
        known: Option<&CounterState>,
        owned: bool,
    ) -> Result<CounterState, StoreError> {
        let invocation = self.reconcile_invocation(name, known, owned);
        let mut conn = self.connection(Primary::commands).await?;
        let reply: Vec<String> = self.bounded(invocation.invoke_async(&mut conn)).await?;
        state_of(&self.inner.keys, name, &reply)
    }

    /// The call of `lua/reconcile.lua` for one counter, alone or in a batch.
    fn reconcile_invocation(
        &self,
        name: &CounterName,
        known: Option<&CounterState>,
        owned: bool,
    ) -> ScriptInvocation<'_> {
        let keys = &self.inner.keys;
        let (known_value, known_version) = match known {
            Some(state) => (state.value.to_string(), state.version),
            None => (String::new(), 0),
        };
        let mut invocation = self.inner.scripts.reconcile.prepare_invoke();
        invocation
            .key(keys.value(name))
            .key(keys.version(name))
            .key(keys.meta(name))
            .arg(known_value)
            .arg(known_version)
            .arg(keys.channel(name))
            .arg(name.as_str())
            .arg(if owned { "1" } else { "0" })
            .arg(self.publish_command());
        invocation
    }

    /// Ok when Redis answers a PING in time. Redis answers PING with MISCONF while it
    /// refuses writes after a failed save: it still answers, reads and fan-out go on, and
    /// changes are answered `unavailable` until it accepts writes again.
    pub async fn ready(&self) -> Result<(), StoreError> {
        let mut conn = self.connection(Primary::commands).await?;
        let ping = redis::cmd("PING");
        match self.bounded(ping.query_async::<String>(&mut conn)).await {
            Ok(_) | Err(StoreError::Refused(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }
}

/// What a failed Redis call means for the caller: a refusal to write, or an outage.
fn store_error(err: RedisError) -> StoreError {
    if refuses_writes(&err) {
        StoreError::Refused(err.to_string())
    } else {
        StoreError::Unavailable(err.to_string())
    }
}

/// Whether Redis refused a command because it refuses every write now, while it still
/// answers: memory full (OOM), a replica (READONLY, as during a failover), a failed save
/// (MISCONF), too few replicas (NOREPLICAS). Nothing was written (the scripts make no write
/// before Redis's first refusal), and the same change can pass later.
pub fn refuses_writes(err: &RedisError) -> bool {
    matches!(
        err.code(),
        Some("OOM" | "READONLY" | "MISCONF" | "NOREPLICAS")
    )
}

/// The refusal a script answered with as one word, if it is one.
fn refusal_of(word: &str) -> Option<StoreError> {
    Some(match word {
        "not_found" => StoreError::NotFound,
        "unauthorized" => StoreError::Unauthorized,
        "forbidden" => StoreError::Forbidden,
        "name_taken" => StoreError::NameTaken,
        "limit_reached" => StoreError::LimitReached,
        "stale" => StoreError::Stale,
        _ => return None,
    })
}

/// Reads a script's `{'ok' | 'dup', value, version}` or `{'damaged', key, why}` reply. The
/// scripts check every key before they answer; a state they return that is still not a
/// counter's state is reported as damage of this counter, never trusted.
fn state_of(keys: &Keys, name: &CounterName, reply: &[String]) -> Result<CounterState, StoreError> {
    let damaged = |key: String, why: String| StoreError::Damaged {
        counter: name.clone(),
        key,
        why,
    };
    match reply {
        [tag, key, why] if tag == "damaged" => Err(damaged(key.clone(), why.clone())),
        [tag] if tag == "gone" => Err(StoreError::NotFound),
        [tag, value, version] if tag == "ok" || tag == "dup" => {
            match (value.parse(), version.parse()) {
                (Ok(value), Ok(version)) if version <= CounterState::MAX_VERSION => {
                    Ok(CounterState {
                        name: name.clone(),
                        value,
                        version,
                    })
                }
                _ => Err(damaged(
                    keys.version(name),
                    format!("the script answered {reply:?}"),
                )),
            }
        }
        _ => Err(damaged(
            keys.value(name),
            format!("the script answered {reply:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_bound_versions_where_the_protocol_does() {
        let line = format!("local MAX_VERSION = '{}'", CounterState::MAX_VERSION);
        assert!(include_str!("lua/stored.lua").contains(&line));
    }
}
