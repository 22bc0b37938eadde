//! Test helpers: real processes on free ports, cleaned up on drop.
//!
//! Every test starts its own `redis-server` and its own backend replicas (the real `backend`
//! binary), so tests are isolated and can kill what they started. Set `TEST_LOG=1` to see
//! the replicas' logs.

pub mod acl;
pub mod cluster;
pub mod layout;
pub mod load;
pub mod nginx;
pub mod owned;
pub mod proxy;
pub mod redis_cluster;
pub mod redis_server;
pub mod refusal;
pub mod replica;
pub mod sentinel;
pub mod ws_client;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

pub use cluster::Cluster;
pub use load::Load;
pub use nginx::Nginx;
pub use proxy::Proxy;
pub use redis_cluster::RedisCluster;
pub use redis_server::RedisServer;
pub use refusal::Refusal;
pub use replica::Replica;
pub use sentinel::SentinelGroup;
pub use ws_client::{ResilientWriter, WsClient};

/// How long any wait in a test may last before it fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("no free port")
}

/// The workspace root (where `dist/` is built).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("backend/ has a parent")
        .to_path_buf()
}

/// Polls `check` until it returns `Some`, or panics with `what` after [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the test run wants the processes' logs.
pub fn logs_wanted() -> bool {
    std::env::var_os("TEST_LOG").is_some()
}

/// Where a started process's output goes: the terminal with `TEST_LOG`, else nowhere.
pub fn process_output() -> std::process::Stdio {
    if logs_wanted() {
        std::process::Stdio::inherit()
    } else {
        std::process::Stdio::null()
    }
}
