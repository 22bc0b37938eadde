//! Fan-out beside idle counters (issue 12, item 4): fan-out rounds again while each replica
//! also serves many counters nobody changes, one socket each. What a replica does per counter
//! it serves — the reconcile every 2 s, presence every second — must not show in how fast
//! changes reach subscribers: the report sets these rounds beside the same rounds without
//! the idle counters, measured just before in the same run.

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::fanout::{self, FanoutResult};
use crate::harness::Bench;
use crate::workers::Workers;

/// The idle counters are this name with a number appended, each on one replica.
const COUNTER: &str = "quiet";

#[derive(Debug, Serialize)]
pub struct IdleCountersResult {
    /// Idle counters each replica served during the rounds, as planned.
    pub per_replica: usize,
    /// Idle sockets that connected, over all replicas (one per counter).
    pub connected: u64,
    /// The fan-out rounds measured beside them.
    pub rounds: Vec<FanoutResult>,
}

/// Opens `plan.idle_counters` idle counters on each replica and runs the fan-out rounds of
/// `plan.idle_counter_rounds` beside them; `None` when the plan has none.
pub async fn run(bench: &mut Bench) -> Result<Option<IdleCountersResult>> {
    let per_replica = bench.plan.idle_counters;
    if per_replica == 0 || bench.plan.idle_counter_rounds.is_empty() {
        return Ok(None);
    }
    let urls: Vec<String> = bench
        .replicas
        .iter()
        .map(|replica| replica.ws_url(COUNTER))
        .collect();
    eprintln!("fan-out beside idle counters: opening {per_replica} idle counters on each replica");
    let idle = Workers::start_numbered(&urls, per_replica * urls.len(), &mut bench.sources).await?;
    let connected = idle.connected;
    // Let the replicas settle: the connection storm's presence, and a reconcile round or two
    // over the new counters.
    tokio::time::sleep(Duration::from_secs(5)).await;
    // The fan-out phase runs the plan's rounds: for now, these.
    let rounds = bench.plan.idle_counter_rounds.clone();
    let ordinary = std::mem::replace(&mut bench.plan.fanout, rounds);
    let measured = fanout::run(bench).await;
    bench.plan.fanout = ordinary;
    idle.stop().await;
    Ok(Some(IdleCountersResult {
        per_replica,
        connected,
        rounds: measured?,
    }))
}
