//! Redis Cluster (`--redis-cluster-nodes`): the store's commands go through the `redis`
//! crate's cluster connection, which learns the slot map from the seed nodes, sends every
//! command to the primary owning its first key's slot, follows `MOVED` and `ASK`, and
//! refreshes the map after a failover or a resharding.
//!
//! What a cluster changes for the store, and where:
//! - `EVALSHA` is routed by its first key (the crate's `ThirdArgAfterKeyCount`), and every key
//!   of a counter shares its name as hash tag ([`super::keys`]), so each script runs where its
//!   counter lives. `SCRIPT LOAD` goes to every node, so a `NOSCRIPT` reload works as on one
//!   server.
//! - Changes are announced with `SPUBLISH` on the counter's own channel (sharded pub/sub),
//!   which hashes to the counter's slot ([`Nodes::publish_command`]).
//! - The set of owned counters has a slot of its own, so it is kept outside the counter's
//!   scripts (`redis/owned.rs`).
//! - A pipeline must stay within one slot, so batches become concurrent single calls
//!   (`redis/batch.rs`).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, FromRedisValue, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, Value};
use tokio::sync::OnceCell;

use super::primary::Primary;

/// The seed nodes of a Redis Cluster and the one multiplexed connection to all its nodes.
pub struct ClusterNodes {
    /// `--redis-cluster-nodes`: where the slot map is first asked for. The login (user and
    /// password) comes from these URLs, as the crate reads them (all seeds must agree).
    seeds: Vec<String>,
    /// `--store-timeout-ms`, for connecting and for each answer.
    timeout: Duration,
    /// Opened by the first command, so a replica starts (not ready) while the cluster is
    /// down; a failed attempt is made again by the next command. Once open, the crate
    /// reconnects and refreshes slots by itself.
    connection: OnceCell<ClusterConnection>,
}

impl ClusterNodes {
    /// Checks the seed URLs (parsable, one login) without connecting.
    pub fn new(seeds: &[String], timeout: Duration) -> Result<Self, RedisError> {
        let nodes = Self {
            seeds: seeds
                .iter()
                .map(|seed| seed.trim().to_owned())
                .filter(|seed| !seed.is_empty())
                .collect(),
            timeout,
            connection: OnceCell::new(),
        };
        for seed in &nodes.seeds {
            seed.as_str().into_connection_info()?;
        }
        nodes.builder().build()?;
        Ok(nodes)
    }

    /// A builder for a client of this cluster: the seeds, RESP3, the store's timeouts, the
    /// seeds' login. The fan-out's subscriber adds its `push_sender` to it.
    pub fn builder(&self) -> ClusterClientBuilder {
        ClusterClientBuilder::new(self.seeds.clone())
            .use_protocol(redis::ProtocolVersion::RESP3)
            .connection_timeout(self.timeout)
            .response_timeout(self.timeout)
    }

    /// The command connection, opened on first use.
    pub async fn connection(&self) -> Result<ClusterConnection, RedisError> {
        let opened = self
            .connection
            .get_or_try_init(|| async {
                let connection = self.builder().build()?.get_async_connection().await;
                match &connection {
                    Ok(_) => tracing::info!(seeds = self.seeds.len(), "Redis Cluster connected"),
                    Err(err) => tracing::warn!(error = %err, "cannot reach the Redis Cluster"),
                }
                connection
            })
            .await?;
        Ok(opened.clone())
    }
}

/// Where the store's Redis is: one primary (a fixed server or the one Sentinel names), or a
/// cluster. The one place that tells them apart for the command path.
#[derive(Clone)]
pub enum Nodes {
    Primary(Arc<Primary>),
    Cluster(Arc<ClusterNodes>),
}

/// A connection for one command or script: to the primary, or to the cluster. Both are
/// multiplexed and cheap to clone, and `Script::invoke_async` and `query_async` work on
/// either unchanged.
#[derive(Clone)]
pub enum Connection {
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Server(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Server(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

impl Connection {
    /// Runs a command that names no key (`SCAN`) on the node that holds `key`: on one server
    /// that is the server; on a cluster the primary owning `key`'s slot, where the crate
    /// would otherwise pick a node at random.
    pub async fn query_where<T: FromRedisValue>(
        &mut self,
        cmd: &Cmd,
        key: &str,
    ) -> Result<T, RedisError> {
        match self {
            Self::Server(conn) => cmd.query_async(conn).await,
            Self::Cluster(conn) => {
                let route = Route::with_key(key, SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                let reply = conn.route_command(cmd.clone(), routing).await?;
                T::from_redis_value(reply).map_err(Into::into)
            }
        }
    }
}

impl Nodes {
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// The command that announces a change on a counter's channel, run inside the change's
    /// script. One server: `PUBLISH`, which `redis-cli SUBSCRIBE counter:{global}` hears (the
    /// version-1 contract). A cluster: `SPUBLISH`, sharded pub/sub, heard by `SSUBSCRIBE` on
    /// the node that owns the channel's slot, and sent over no cluster bus. Redis 7.0
    /// counts a shard channel as a key of the command: inside a script on a cluster it must
    /// hash to the slot of the script's keys ("Script attempted to access keys that do not
    /// hash to the same slot" otherwise), which a counter's channel does, having the
    /// counter's name as hash tag. A plain `PUBLISH` would also run in the script there, but
    /// every node would forward every message to every other node.
    pub fn publish_command(&self) -> &'static str {
        match self {
            Self::Primary(_) => "PUBLISH",
            Self::Cluster(_) => "SPUBLISH",
        }
    }

    /// A connection for `pick`'s use: the primary's `commands` or `changes` connection, or
    /// the cluster's one connection. The error says why there is none now.
    pub async fn connection(
        &self,
        pick: fn(&Primary) -> Option<ConnectionManager>,
    ) -> Result<Connection, String> {
        match self {
            Self::Primary(primary) => match pick(primary) {
                Some(conn) => Ok(Connection::Server(conn)),
                None => {
                    primary.nudge();
                    Err("Sentinel has named no Redis primary yet".into())
                }
            },
            Self::Cluster(cluster) => cluster
                .connection()
                .await
                .map(Connection::Cluster)
                .map_err(|err| err.to_string()),
        }
    }

    /// After a failure that may mean the primary moved: asks Sentinel again, in the
    /// background. A cluster's connection follows its primaries by itself.
    pub fn nudge(&self) {
        if let Self::Primary(primary) = self {
            primary.nudge();
        }
    }
}
