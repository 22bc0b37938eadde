//! Benchmark 3, idle memory: how much resident memory one idle WebSocket costs a replica.
//!
//! It runs first, on a replica no client has touched, so that allocations kept from earlier
//! phases do not hide the cost: RSS after N idle connections, minus RSS before, over N.

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::harness::Bench;
use crate::usage::rss;
use crate::workers::Workers;

#[derive(Debug, Serialize)]
pub struct IdleResult {
    /// Idle WebSockets open on the replica at this step.
    pub connections: u64,
    /// The replica's resident memory before the first connection.
    pub rss_before_mib: f64,
    /// Its resident memory with `connections` open.
    pub rss_after_mib: f64,
    /// The difference over the connections: what the target is set on.
    pub kib_per_connection: f64,
}

/// Opens idle WebSockets on one replica in steps (`plan.idle_connections`, each a running
/// total) and measures after each step: the issue quotes the cost at 10,000 connections and
/// sets its target at 19,000 on one replica.
pub async fn run(bench: &mut Bench) -> Result<Vec<IdleResult>> {
    let replica = &bench.replicas[0];
    let steps = bench.plan.idle_connections.clone();
    eprintln!(
        "idle memory: up to {} WebSockets on one replica",
        steps.last().unwrap_or(&0)
    );
    let before = rss(replica.pid());
    let urls = vec![replica.ws_url("idle")];
    let mut opened = Vec::new();
    let mut results = Vec::new();
    let mut connections = 0;
    let mib = |bytes: u64| bytes as f64 / 1048576.0;
    for target in steps {
        let workers = Workers::start(
            &urls,
            target.saturating_sub(connections as usize),
            &mut bench.sources,
        )
        .await?;
        connections += workers.connected;
        opened.push(workers);
        // Let the replica finish its per-connection work (presence, first frames) and settle.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss(replica.pid());
        let result = IdleResult {
            connections,
            rss_before_mib: mib(before),
            rss_after_mib: mib(after),
            kib_per_connection: after.saturating_sub(before) as f64
                / 1024.0
                / connections.max(1) as f64,
        };
        eprintln!(
            "    {:.1} KiB per connection ({connections} connections, RSS {:.1} → {:.1} MiB)",
            result.kib_per_connection, result.rss_before_mib, result.rss_after_mib
        );
        results.push(result);
    }
    for workers in opened {
        workers.stop().await;
    }
    // Give the replica time to see the connections close before the next phase loads it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(results)
}
