//! A running system under test: one store and its replicas.

use super::replica::data_dir_arg;
use super::{RedisCluster, RedisServer, Replica, SentinelGroup, WsClient, layout};

/// The store behind a cluster.
pub enum Backing {
    Redis(Box<RedisServer>),
    /// The embedded store, in a data folder removed on drop.
    Embedded {
        _data: tempfile::TempDir,
    },
    /// A primary and a replica watched by Sentinel; the replicas follow the primary.
    Sentinel(Box<SentinelGroup>),
    /// A Redis Cluster of three primaries with a replica each (`--redis-cluster-nodes`).
    RedisCluster(Box<RedisCluster>),
}

pub struct Cluster {
    /// The store the replicas keep their counters in.
    pub backing: Backing,
    /// The backend processes, in start order.
    pub replicas: Vec<Replica>,
}

/// Flags every test replica gets: a short reconcile period so tests of it run fast, a
/// generous op rate so load tests are not rate-limited, and sockets kept through Redis
/// outages, which the outage tests watch from one socket (the tests of each limit set their
/// own).
fn common_flags(extra: &[&str]) -> Vec<String> {
    let defaults = [
        ("--reconcile-interval-ms", "300"),
        ("--max-ops-per-second", "100000"),
        ("--max-ops-burst", "100000"),
        ("--store-timeout-ms", "1000"),
        ("--store-lost-close-ms", "0"),
    ];
    let mut flags: Vec<String> = extra.iter().map(|f| f.to_string()).collect();
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            flags.extend([flag.to_string(), value.to_string()]);
        }
    }
    flags
}

impl Cluster {
    /// A fresh Redis and `replicas` backends on it.
    pub async fn redis(replicas: usize) -> Self {
        Self::redis_on(RedisServer::start().await, replicas, &[]).await
    }

    pub async fn redis_on(redis: RedisServer, replicas: usize, extra: &[&str]) -> Self {
        let mut flags = common_flags(extra);
        // A test may connect the replicas as another Redis user.
        if !extra.contains(&"--redis-url") {
            flags.extend(["--redis-url".to_string(), redis.url()]);
        }
        let mut started = Vec::new();
        for _ in 0..replicas {
            started.push(Replica::start(&flags).await);
        }
        let running = redis.is_running();
        let cluster = Self {
            backing: Backing::Redis(Box::new(redis)),
            replicas: started,
        };
        // Sockets are refused (503) until a replica's subscriber is live; tests start from a
        // ready system unless they stopped Redis on purpose.
        if running {
            cluster.wait_ready(200).await;
        }
        cluster
    }

    /// `replicas` backends on the primary that `group`'s sentinels name.
    pub async fn sentinel(group: SentinelGroup, replicas: usize, extra: &[&str]) -> Self {
        let mut flags = common_flags(extra);
        flags.extend(["--redis-url".to_string(), group.url()]);
        let mut started = Vec::new();
        for _ in 0..replicas {
            started.push(Replica::start(&flags).await);
        }
        let cluster = Self {
            backing: Backing::Sentinel(Box::new(group)),
            replicas: started,
        };
        cluster.wait_ready(200).await;
        cluster
    }

    /// `replicas` backends on `redis` (`--redis-cluster-nodes`, every node a seed).
    pub async fn redis_cluster(redis: RedisCluster, replicas: usize, extra: &[&str]) -> Self {
        let mut flags = common_flags(extra);
        flags.extend(["--redis-cluster-nodes".to_string(), redis.seeds()]);
        let mut started = Vec::new();
        for _ in 0..replicas {
            started.push(Replica::start(&flags).await);
        }
        let cluster = Self {
            backing: Backing::RedisCluster(Box::new(redis)),
            replicas: started,
        };
        cluster.wait_ready(200).await;
        cluster
    }

    pub fn redis_cluster_nodes(&self) -> &RedisCluster {
        match &self.backing {
            Backing::RedisCluster(redis) => redis,
            _ => panic!("not on a Redis Cluster"),
        }
    }

    pub fn redis_cluster_nodes_mut(&mut self) -> &mut RedisCluster {
        match &mut self.backing {
            Backing::RedisCluster(redis) => redis,
            _ => panic!("not on a Redis Cluster"),
        }
    }

    pub fn sentinel_group(&self) -> &SentinelGroup {
        match &self.backing {
            Backing::Sentinel(group) => group,
            _ => panic!("not a Sentinel cluster"),
        }
    }

    pub fn sentinel_group_mut(&mut self) -> &mut SentinelGroup {
        match &mut self.backing {
            Backing::Sentinel(group) => group,
            _ => panic!("not a Sentinel cluster"),
        }
    }

    /// One backend on a fresh embedded store.
    pub async fn embedded(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut flags = common_flags(extra);
        flags.extend(data_dir_arg(dir.path()));
        let replica = Replica::start(&flags).await;
        Self {
            backing: Backing::Embedded { _data: dir },
            replicas: vec![replica],
        }
    }

    pub fn redis_server(&self) -> &RedisServer {
        match &self.backing {
            Backing::Redis(redis) => redis,
            _ => panic!("not a one-server Redis cluster"),
        }
    }

    pub fn redis_server_mut(&mut self) -> &mut RedisServer {
        match &mut self.backing {
            Backing::Redis(redis) => redis,
            _ => panic!("not a one-server Redis cluster"),
        }
    }

    /// Waits until every replica's `/readyz` answers `status`.
    pub async fn wait_ready(&self, status: u16) {
        for replica in &self.replicas {
            replica.wait_ready(status).await;
        }
    }

    /// Checks that every replica refuses a REST change with 503 `unavailable` (and that the
    /// process itself is fine).
    pub async fn assert_changes_unavailable(&self, name: &str, op_id: &str) {
        for replica in &self.replicas {
            let answer = replica.increment(name, 1, Some(op_id)).await;
            assert_eq!(answer.status, 503, "{}", answer.body);
            assert_eq!(answer.body["error"]["code"], "unavailable");
            assert_eq!(replica.healthz().await, 200, "the process itself is fine");
        }
    }

    /// Every replica's WebSocket URL for counter `name`.
    pub fn ws_urls(&self, name: &str) -> Vec<String> {
        self.replicas
            .iter()
            .map(|replica| replica.ws_url(name))
            .collect()
    }

    /// One client per replica watching counter `name`.
    pub async fn watchers(&self, name: &str) -> Vec<WsClient> {
        let mut watchers = Vec::new();
        for replica in &self.replicas {
            watchers.push(WsClient::connect(&replica.ws_url(name)).await);
        }
        watchers
    }

    /// The replica that serves the `i`-th client (clients spread round-robin).
    pub fn replica_for(&self, i: usize) -> &Replica {
        &self.replicas[i % self.replicas.len()]
    }

    /// What the store holds for a counter: `redis-cli GET` for Redis, the REST answer for
    /// the embedded store.
    pub async fn stored_value(&self, name: &str) -> i64 {
        match &self.backing {
            Backing::Redis(redis) => redis.get_i64(&layout::value(name)).await.unwrap_or(0),
            Backing::Sentinel(group) => {
                let key = layout::value(name);
                group.primary().await.get_i64(&key).await.unwrap_or(0)
            }
            Backing::RedisCluster(redis) => {
                let mut conn = redis.client().await;
                let value: Option<i64> = redis::cmd("GET")
                    .arg(layout::value(name))
                    .query_async(&mut conn)
                    .await
                    .expect("GET on the cluster");
                value.unwrap_or(0)
            }
            Backing::Embedded { .. } => self.replicas[0].state(name).await.value,
        }
    }
}
