//! A real Redis Cluster on free ports: six `redis-server`s with `cluster-enabled yes` (three
//! primaries, a replica each), joined by `redis-cli --cluster create`, each in its own
//! temporary folder with its own `nodes.conf` and append-only file.

use std::time::Duration;

use redis::FromRedisValue;
use redis::cluster_async::ClusterConnection;
use tokio::process::Command;

use super::{RedisServer, free_port};

/// How long a failover may take here: the node timeout (2 s), the replicas' election and
/// the slot map reaching every node, on a busy machine.
const FAILOVER_PATIENCE: Duration = Duration::from_secs(40);

pub struct RedisCluster {
    /// The six nodes in start order; a killed one stays with `is_running() == false`.
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts six nodes, makes them one cluster of three primaries with a replica each, and
    /// waits until every node says `cluster_state:ok` and knows all six.
    pub async fn start() -> Self {
        let mut nodes = Vec::new();
        for _ in 0..6 {
            // The cluster bus defaults to port + 10000, which a free port may not have.
            let bus = free_port().to_string();
            let args = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-port",
                &bus,
                "--cluster-node-timeout",
                "2000",
                "--appendonly",
                "yes",
                "--save",
                "",
            ];
            nodes.push(RedisServer::start_with(&args).await);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .await
            .expect("redis-cli must be installed");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = Self { nodes };
        cluster.wait_ok(Duration::from_secs(30)).await;
        cluster
    }

    /// Waits until every running node says `cluster_state:ok`, knows every node, and agrees
    /// on who serves every slot.
    pub async fn wait_ok(&self, patience: Duration) {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let mut ok = true;
            let mut maps = Vec::new();
            for node in self.running() {
                let info: String = node.cmd(&["CLUSTER", "INFO"]).await;
                ok &= info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384");
                maps.push(self.slot_map(node).await);
            }
            if ok && maps.windows(2).all(|pair| pair[0] == pair[1]) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the Redis Cluster did not become ok in {patience:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn running(&self) -> impl Iterator<Item = &RedisServer> {
        self.nodes.iter().filter(|node| node.is_running())
    }

    /// A running node, to ask about the cluster.
    pub fn any(&self) -> &RedisServer {
        self.running().next().expect("a running node")
    }

    /// `--redis-cluster-nodes` for the replicas: every running node.
    pub fn seeds(&self) -> String {
        self.running()
            .map(|node| node.url())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A plain cluster client, as an operator's program would use.
    pub async fn client(&self) -> ClusterConnection {
        let seeds: Vec<String> = self.running().map(|node| node.url()).collect();
        redis::cluster::ClusterClient::new(seeds)
            .expect("seeds")
            .get_async_connection()
            .await
            .expect("connect to the cluster")
    }

    /// `CLUSTER KEYSLOT key`.
    pub async fn slot(&self, key: &str) -> u16 {
        self.any().cmd(&["CLUSTER", "KEYSLOT", key]).await
    }

    /// Slot ranges and the port of the primary serving each, as `node` sees them.
    async fn slot_map(&self, node: &RedisServer) -> Vec<(u16, u16, u16)> {
        let slots: Vec<redis::Value> = node.cmd(&["CLUSTER", "SLOTS"]).await;
        let mut map: Vec<(u16, u16, u16)> = slots
            .into_iter()
            .map(|range| {
                let redis::Value::Array(parts) = range else {
                    panic!("CLUSTER SLOTS answered {range:?}")
                };
                let number = |value: &redis::Value| -> u16 {
                    u16::from_redis_value(value.clone()).expect("a number")
                };
                let redis::Value::Array(primary) = &parts[2] else {
                    panic!("no primary in {parts:?}")
                };
                (number(&parts[0]), number(&parts[1]), number(&primary[1]))
            })
            .collect();
        map.sort();
        map
    }

    /// The index in [`Self::nodes`] of the primary serving `key`'s slot now.
    pub async fn primary_for(&self, key: &str) -> usize {
        let slot = self.slot(key).await;
        let map = self.slot_map(self.any()).await;
        let (_, _, port) = map
            .into_iter()
            .find(|(first, last, _)| (*first..=*last).contains(&slot))
            .expect("every slot is served");
        self.nodes
            .iter()
            .position(|node| node.port == port)
            .expect("a node of this cluster")
    }

    /// The indexes of the primaries now.
    pub async fn primaries(&self) -> Vec<usize> {
        let mut ports: Vec<u16> = self
            .slot_map(self.any())
            .await
            .into_iter()
            .map(|(_, _, port)| port)
            .collect();
        ports.sort();
        ports.dedup();
        ports
            .into_iter()
            .map(|port| {
                self.nodes
                    .iter()
                    .position(|node| node.port == port)
                    .unwrap()
            })
            .collect()
    }

    /// `kill -9` of the primary serving `key`, then waits until its replica has taken over
    /// and every other node agrees. Returns the killed node's index.
    pub async fn kill_primary_for(&mut self, key: &str) -> usize {
        let old = self.primary_for(key).await;
        self.nodes[old].kill9().await;
        // The others still call it the primary until the node timeout has passed.
        let deadline = tokio::time::Instant::now() + FAILOVER_PATIENCE;
        while self.primary_for(key).await == old {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no replica took over in {FAILOVER_PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.wait_ok(FAILOVER_PATIENCE).await;
        old
    }

    /// Moves `key`'s slot to the primary `to` (an index in [`Self::nodes`]), keys and all,
    /// as `redis-cli --cluster reshard` does for each slot it moves: importing on the
    /// target, migrating on the source, `MIGRATE` of every key, then the new owner told to
    /// every node.
    pub async fn move_slot_of(&self, key: &str, to: usize) {
        let slot = self.slot(key).await.to_string();
        let from = self.primary_for(key).await;
        let (source, target) = (&self.nodes[from], &self.nodes[to]);
        let source_id: String = source.cmd(&["CLUSTER", "MYID"]).await;
        let target_id: String = target.cmd(&["CLUSTER", "MYID"]).await;
        let _: () = target
            .cmd(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &source_id])
            .await;
        let _: () = source
            .cmd(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &target_id])
            .await;
        loop {
            let keys: Vec<String> = source
                .cmd(&["CLUSTER", "GETKEYSINSLOT", &slot, "100"])
                .await;
            if keys.is_empty() {
                break;
            }
            let port = target.port.to_string();
            let mut args = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
            args.extend(keys.iter().map(String::as_str));
            let _: () = source.cmd(&args).await;
        }
        // Only primaries take SETSLOT; the replicas learn the owner from them.
        for primary in self.primaries().await {
            let _: () = self.nodes[primary]
                .cmd(&["CLUSTER", "SETSLOT", &slot, "NODE", &target_id])
                .await;
        }
        self.wait_ok(Duration::from_secs(20)).await;
        assert_eq!(self.primary_for(key).await, to, "the slot moved");
    }

    /// `redis-cli -c -p PORT GET key`: what an operator sees.
    pub async fn redis_cli_get(&self, key: &str) -> String {
        let output = Command::new("redis-cli")
            .args(["-c", "-p", &self.any().port.to_string(), "GET", key])
            .output()
            .await
            .expect("redis-cli");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}
