//! `cargo xtask run --cluster`: a local Redis Cluster to try the service on — six real
//! `redis-server` processes (three primaries, three replicas) joined by
//! `redis-cli --cluster create`, as the tests start theirs. The cluster is made fresh in the
//! target folder on every run and thrown away with it: it is for trying, not for keeping.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::workspace::{self, Workspace};

/// Three primaries and one replica each: the smallest cluster that survives a primary's loss.
const NODES: usize = 6;
/// How long the nodes get to agree that every slot is served.
const FORM_TIMEOUT: Duration = Duration::from_secs(30);

/// Picks `NODES` free loopback ports. The OS hands out a free port for port 0; the listeners
/// are dropped just before the servers bind them.
pub fn free_ports() -> Result<Vec<SocketAddr>> {
    let listeners = (0..NODES)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .context("could not find free ports for the Redis Cluster")?;
    listeners
        .iter()
        .map(|listener| {
            listener
                .local_addr()
                .context("a listener without an address")
        })
        .collect()
}

/// The command that starts one cluster node on `address`, its files in a folder of its own
/// under `dir` (emptied first: a node remembers its cluster in `nodes.conf`).
pub fn node_command(
    workspace: &Workspace,
    dir: &Path,
    address: SocketAddr,
) -> Result<std::process::Command> {
    let node_dir = dir.join(address.port().to_string());
    if node_dir.exists() {
        std::fs::remove_dir_all(&node_dir)
            .with_context(|| format!("could not empty {}", node_dir.display()))?;
    }
    std::fs::create_dir_all(&node_dir)
        .with_context(|| format!("could not create {}", node_dir.display()))?;
    let mut command = workspace.command("redis-server");
    command
        .args(["--bind", "127.0.0.1", "--port", &address.port().to_string()])
        .args([
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
        ])
        .args(["--appendonly", "yes", "--save", ""])
        .arg("--dir")
        .arg(&node_dir);
    Ok(command)
}

/// Joins the listening nodes into one cluster and waits until every node says every slot is
/// served.
pub async fn form(workspace: &Workspace, nodes: &[SocketAddr]) -> Result<()> {
    workspace::step("Joining the Redis Cluster (redis-cli --cluster create)");
    let mut create = workspace.command("redis-cli");
    create
        .args(["--cluster", "create"])
        .args(nodes.iter().map(SocketAddr::to_string))
        .args(["--cluster-replicas", "1", "--cluster-yes"]);
    workspace::run(&mut create).context("redis-cli could not create the cluster")?;
    let started = Instant::now();
    for node in nodes {
        loop {
            let info = workspace::probe(workspace.command("redis-cli").args([
                "-p",
                &node.port().to_string(),
                "CLUSTER",
                "INFO",
            ]));
            if info.is_some_and(|info| info.contains("cluster_state:ok")) {
                break;
            }
            if started.elapsed() > FORM_TIMEOUT {
                bail!("the Redis Cluster did not reach cluster_state:ok within {FORM_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// `REDIS_CLUSTER_NODES` for the backends: every node is a seed, so any one down at start
/// does not stop them.
pub fn seeds(nodes: &[SocketAddr]) -> String {
    nodes
        .iter()
        .map(|node| format!("redis://{node}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_is_a_seed() {
        let nodes = [
            SocketAddr::from(([127, 0, 0, 1], 7000)),
            SocketAddr::from(([127, 0, 0, 1], 7001)),
        ];
        assert_eq!(
            seeds(&nodes),
            "redis://127.0.0.1:7000,redis://127.0.0.1:7001"
        );
    }

    #[test]
    fn six_distinct_free_ports() {
        let mut ports: Vec<u16> = free_ports().unwrap().iter().map(|a| a.port()).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), NODES);
    }
}
