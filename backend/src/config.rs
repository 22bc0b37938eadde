//! Command-line flags and their environment-variable twins (`backend --help` lists them).

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::store::replica_wait::ReplicaWait;

/// The command line: the server's flags, or a subcommand (then the server's flags are not
/// used).
#[derive(Debug, Parser)]
#[command(name = "backend", version, about = "The Shared Counter server")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub server: Config,
}

/// What `backend` does instead of serving.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Move keys of version 1's layout to version 2's hash-tagged names, then exit.
    ///
    /// Moves `counter:NAME`, `counter:NAME:version`, `counter:NAME:op:ID` and
    /// `counter:NAME:presence` (and 0.3.0's `:meta` and `:log`) to `counter:{NAME}`,
    /// `counter:{NAME}:version`, … . Stop every replica first, then start the new version. A
    /// tagged key that already exists is never overwritten: it is kept, the old key left in
    /// place and listed. Running it again changes nothing.
    UpgradeKeys(UpgradeKeys),
}

/// `backend upgrade-keys`' flags.
#[derive(Clone, Debug, Args)]
pub struct UpgradeKeys {
    /// The Redis primary (`redis://…` or `rediss://…`), as a user that may SCAN, RENAMENX,
    /// EXISTS and GET every key under the prefix (deploy/redis's `counter-admin`).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: String,

    /// Prefix of the keys to move, as the replicas are configured.
    #[arg(long, env = "KEY_PREFIX", default_value = "counter:")]
    pub key_prefix: String,

    /// Only list what would move and what conflicts; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How one replica is configured. Every flag has an environment variable of the same meaning,
/// so a container or systemd unit can configure it without a command line.
#[derive(Clone, Debug, Parser)]
#[command(name = "backend", version, about = "The Shared Counter server")]
pub struct Config {
    /// Address to listen on. Port 0 picks a free port; the chosen address is printed.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Redis to keep counters in: one server (`redis://…` or `rediss://…`), or the primary
    /// that Redis Sentinel names (`redis+sentinel://[user:password@]host:port,host:port/
    /// master-name`; the login is for the primary, the sentinels are asked without one).
    /// Without it the replica keeps them in an embedded store under --data-dir and must be
    /// the only replica.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// A Redis Cluster to keep counters in, instead of --redis-url: some of its nodes,
    /// comma-separated (`redis://[user:password@]host:port`, one login for all), from which
    /// the replica learns the rest. Changes are announced with sharded pub/sub (`SPUBLISH`
    /// on `counter:{name}`).
    #[arg(
        long,
        env = "REDIS_CLUSTER_NODES",
        hide_env_values = true,
        value_delimiter = ',',
        conflicts_with = "redis_url"
    )]
    pub redis_cluster_nodes: Vec<String>,

    /// Acknowledge a change only once this many Redis replicas hold it (`WAIT` after each
    /// change), so that a failover to one of them cannot lose it. 0: once the primary has
    /// applied it. A change the replicas do not confirm in time is answered 503
    /// `unavailable`; the client's retry under the same `op_id` counts it once.
    #[arg(long, env = "REDIS_WAIT_REPLICAS", default_value_t = 0)]
    pub redis_wait_replicas: u32,

    /// How long (in milliseconds) a change waits for --redis-wait-replicas replicas before
    /// it is answered 503. Keep it below --store-timeout-ms.
    #[arg(long, env = "REDIS_WAIT_TIMEOUT_MS", default_value_t = 500)]
    pub redis_wait_timeout_ms: u64,

    /// PEM file of the certificate authority to trust for `rediss://` (default: the
    /// system's trusted roots).
    #[arg(long, env = "REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,

    /// Folder of the embedded store (used only without --redis-url).
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Folder of the built frontend (Trunk's `dist/`).
    #[arg(long, env = "STATIC_DIR", default_value = "./dist")]
    pub static_dir: PathBuf,

    /// Prefix of every Redis key and channel, so several deployments can share one Redis.
    #[arg(long, env = "KEY_PREFIX", default_value = "counter:")]
    pub key_prefix: String,

    /// Origins (`https://app.example.com`) allowed to open WebSockets, comma-separated.
    /// Empty: only the origin whose host is the request's own `Host`.
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Largest WebSocket message or REST body accepted, in bytes.
    #[arg(long, env = "MAX_MESSAGE_BYTES", default_value_t = shared::MAX_FRAME_BYTES)]
    pub max_message_bytes: usize,

    /// Operations one WebSocket may send per second, on average (at least 1).
    #[arg(long, env = "MAX_OPS_PER_SECOND", default_value_t = NonZeroU32::new(50).unwrap())]
    pub max_ops_per_second: NonZeroU32,

    /// Operations one WebSocket may send in a burst above the average rate.
    #[arg(long, env = "MAX_OPS_BURST", default_value_t = 100)]
    pub max_ops_burst: u32,

    /// WebSockets one replica holds at once; more are refused with 503.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// WebSockets one client address may hold at once; 0 for no limit (use 0 behind a proxy
    /// that does not pass the client's address).
    #[arg(long, env = "MAX_CONNECTIONS_PER_IP", default_value_t = 1_000)]
    pub max_connections_per_ip: usize,

    /// How often (in milliseconds) the server pings each WebSocket, so dead peers and idle
    /// NAT mappings are found out.
    #[arg(long, env = "PING_INTERVAL_MS", default_value_t = 20_000)]
    pub ping_interval_ms: u64,

    /// A WebSocket that sends nothing (not even a pong) for this long (in milliseconds) is
    /// closed.
    #[arg(long, env = "IDLE_TIMEOUT_MS", default_value_t = 60_000)]
    pub idle_timeout_ms: u64,

    /// A WebSocket whose client does not take a frame within this long (in milliseconds) is
    /// dropped, so a client that never reads cannot hold the server's memory.
    #[arg(long, env = "WRITE_TIMEOUT_MS", default_value_t = 10_000)]
    pub write_timeout_ms: u64,

    /// Shortest time (in milliseconds) between two state frames to one WebSocket; changes in
    /// between are skipped and the newest is sent when it is over. The default, 16 ms, is one
    /// frame of a 60 Hz display: a busier counter than that costs phones battery and the
    /// server CPU, and shows nothing more. 0 sends every change.
    #[arg(long, env = "STATE_INTERVAL_MS", default_value_t = 16)]
    pub state_interval_ms: u64,

    /// How often (in milliseconds) a replica re-reads the counters it serves, to catch changes
    /// made behind its back (`redis-cli SET`) or lost pub/sub messages.
    #[arg(long, env = "RECONCILE_INTERVAL_MS", default_value_t = 2000)]
    pub reconcile_interval_ms: u64,

    /// How long (in seconds) an applied `op_id` is remembered for deduplication.
    #[arg(long, env = "OP_TTL_SECONDS", default_value_t = 86_400)]
    pub op_ttl_seconds: u64,

    /// A replica whose Redis subscriber has been down this long (in milliseconds) closes its
    /// WebSockets with 1013, so that their clients reconnect — through a load balancer, to a
    /// replica that can serve them. 0 keeps them open.
    #[arg(long, env = "STORE_LOST_CLOSE_MS", default_value_t = 5000)]
    pub store_lost_close_ms: u64,

    /// Longest wait (in milliseconds) for one store operation before answering `unavailable`.
    #[arg(long, env = "STORE_TIMEOUT_MS", default_value_t = 2000)]
    pub store_timeout_ms: u64,

    /// The names (`host` or `host:port`, comma-separated) that browsers reach this service
    /// by. A request for any other `Host` is refused with 421 on every path but the probes,
    /// so a page whose domain was re-pointed at this server (DNS rebinding) cannot use it.
    /// Empty: `localhost` and any IP address, on any port (no name was resolved, so nothing
    /// can be rebound). `*`: every name (the check is off).
    #[arg(long, env = "PUBLIC_HOSTS", value_delimiter = ',')]
    pub public_hosts: Vec<String>,

    /// Plain HTTP connections one replica holds at once (a WebSocket stops counting here once
    /// upgraded; --max-connections caps those). Connections past it are closed unanswered.
    #[arg(long, env = "MAX_HTTP_CONNECTIONS", default_value_t = NonZeroUsize::new(2000).unwrap())]
    pub max_http_connections: NonZeroUsize,

    /// A connection has this long (in milliseconds) to send a whole request head, from when
    /// it opens or its last answer went out; then it is closed. Bounds slow clients and idle
    /// keep-alive connections alike.
    #[arg(long, env = "HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,

    /// A request body must arrive whole within this long (in milliseconds) after its head;
    /// then the request is answered 408.
    #[arg(long, env = "BODY_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub body_read_timeout_ms: u64,

    /// Version 2: the counters anyone may read and change without a key, and which exist
    /// without being created (comma-separated names). `*`: every name, as in version 1 (for
    /// a trusted network). Any other name must be created (`POST /api/counters`) and
    /// answers 404 until it is.
    #[arg(
        long,
        env = "OPEN_COUNTERS",
        value_delimiter = ',',
        default_value = "global"
    )]
    pub open_counters: Vec<String>,

    /// Most owned counters the service holds; creating one more is refused with 507
    /// `limit_reached`. It bounds what a script that creates counters costs: an owned
    /// counter takes about 0.3 KB in Redis, and its history about 60 bytes a change, up to
    /// --history-limit (6 MB at the default). 10,000 counters are 3 MB empty, and a few GB
    /// with a few thousand changes each, which a venue's or a school's counters see; full
    /// histories on all of them (60 GB) call for a lower --history-limit (README).
    #[arg(long, env = "MAX_COUNTERS", default_value_t = 10_000)]
    pub max_counters: u64,

    /// Counters one client address may create per minute (a burst of as many, then that
    /// rate); more are refused with 429 `rate_limited`.
    #[arg(long, env = "MAX_CREATES_PER_MINUTE", default_value_t = NonZeroU32::new(30).unwrap())]
    pub max_creates_per_minute: NonZeroU32,

    /// Proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For` names the
    /// client. Empty: the header is never believed, and the client is the connection's peer.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    /// History entries kept per counter (Redis: a stream trimmed with `MAXLEN ~`, so a few
    /// more may stay; embedded: exactly this many).
    #[arg(long, env = "HISTORY_LIMIT", default_value_t = 100_000)]
    pub history_limit: u64,

    /// How long (in milliseconds) a stopping replica waits for plain HTTP requests still in
    /// progress before it drops their connections. WebSockets drain meanwhile, within
    /// --store-timeout-ms and 2 s.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_MS", default_value_t = 5000)]
    pub shutdown_timeout_ms: u64,
}

impl Config {
    /// `--redis-cluster-nodes`, when it names any node.
    pub fn redis_cluster_seeds(&self) -> Option<&[String]> {
        let seeds = &self.redis_cluster_nodes;
        seeds
            .iter()
            .any(|seed| !seed.trim().is_empty())
            .then_some(seeds.as_slice())
    }

    /// `--redis-wait-replicas` and its timeout, when the option is on.
    pub fn replica_wait(&self) -> Option<ReplicaWait> {
        (self.redis_wait_replicas > 0).then(|| ReplicaWait {
            replicas: self.redis_wait_replicas,
            timeout: Duration::from_millis(self.redis_wait_timeout_ms.max(1)),
        })
    }

    pub fn reconcile_interval(&self) -> Duration {
        Duration::from_millis(self.reconcile_interval_ms.max(10))
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms.max(10))
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms.max(10))
    }

    pub fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms.max(10))
    }

    pub fn state_interval(&self) -> Duration {
        Duration::from_millis(self.state_interval_ms)
    }

    pub fn store_timeout(&self) -> Duration {
        Duration::from_millis(self.store_timeout_ms.max(1))
    }

    pub fn store_lost_close(&self) -> Option<Duration> {
        (self.store_lost_close_ms > 0).then(|| Duration::from_millis(self.store_lost_close_ms))
    }

    pub fn op_ttl(&self) -> Duration {
        Duration::from_secs(self.op_ttl_seconds.max(1))
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms.max(10))
    }

    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_millis(self.body_read_timeout_ms.max(10))
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_is_named_instead_of_a_redis_url_never_beside_it() {
        let cluster = Config::try_parse_from([
            "backend",
            "--redis-cluster-nodes",
            "redis://10.0.0.1:7000,redis://10.0.0.2:7000",
        ])
        .expect("seed nodes alone");
        assert_eq!(
            cluster.redis_cluster_seeds(),
            Some(
                &[
                    "redis://10.0.0.1:7000".to_owned(),
                    "redis://10.0.0.2:7000".to_owned()
                ][..]
            )
        );
        assert_eq!(cluster.redis_url, None);
        let both = Config::try_parse_from([
            "backend",
            "--redis-url",
            "redis://127.0.0.1/",
            "--redis-cluster-nodes",
            "redis://10.0.0.1:7000",
        ]);
        let err = both.expect_err("both at once is refused");
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        let neither = Config::try_parse_from(["backend"]).expect("the embedded store");
        assert_eq!(neither.redis_cluster_seeds(), None);
    }
}
