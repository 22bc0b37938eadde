//! Benchmark 3b, what `--redis-wait-replicas 1` costs: WebSocket writers against a primary
//! with one replica (both started here, apart from the main Redis), through backends without
//! the option and backends with it, in alternating rounds so that the shared machine's drift
//! hits both alike. Each setting's figures are the medians over its rounds.

use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::cluster::{Backing, Redis, Replica};
use crate::harness::{Bench, Paths};
use crate::latency::{self, Latency};
use crate::writes::websocket_writer;

/// Rounds of each setting per number of writers.
pub const ROUNDS: usize = 3;

/// Backends per setting, as in the main run.
const BACKENDS: usize = 2;

/// How long the replica may take to hold the primary's (empty) data set.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize)]
pub struct ReplicatedRun {
    /// Concurrent WebSocket writers, each with one change in flight.
    pub writers: usize,
    /// Acked only once the primary applied a change (replication asynchronous).
    pub without_wait: Setting,
    /// Acked only once the replica holds it too (`--redis-wait-replicas 1`).
    pub with_wait: Setting,
}

/// One setting's medians over its rounds.
#[derive(Debug, Serialize)]
pub struct Setting {
    /// Acknowledged changes per second.
    pub ops_per_second: f64,
    /// Median of the rounds' median latencies, send to ack.
    pub p50_ms: f64,
    /// Median of the rounds' 99th percentiles.
    pub p99_ms: f64,
    /// Changes refused or unanswered, over all rounds.
    pub errors: u64,
}

impl ReplicatedRun {
    /// Throughput with the option over throughput without it.
    pub fn throughput_ratio(&self) -> f64 {
        ratio(
            self.with_wait.ops_per_second,
            self.without_wait.ops_per_second,
        )
    }

    /// Median latency with the option over median latency without it.
    pub fn latency_ratio(&self) -> f64 {
        ratio(self.with_wait.p50_ms, self.without_wait.p50_ms)
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

pub async fn run(bench: &mut Bench, paths: &Paths) -> Result<Vec<ReplicatedRun>> {
    let primary = Redis::start_named(&paths.log_dir, "replicated-primary", &[]).await?;
    let port = primary.port.to_string();
    let standby = Redis::start_named(
        &paths.log_dir,
        "replicated-replica",
        &["--replicaof", "127.0.0.1", &port],
    )
    .await?;
    wait_for_sync(&standby).await?;
    let mut without = Vec::new();
    let mut with = Vec::new();
    for index in 0..BACKENDS {
        let start = |name: &str, extra: &'static [&'static str]| {
            let log = paths.log_dir.join(format!("replicated-{name}-{index}.log"));
            let store = Backing::Redis(primary.url());
            async move {
                Replica::start_with(&paths.backend, &store, &paths.static_dir, &log, extra).await
            }
        };
        without.push(start("without-wait", &[]).await?);
        with.push(start("with-wait", &["--redis-wait-replicas", "1"]).await?);
    }

    let mut runs = Vec::new();
    for &writers in &bench.plan.writers.clone() {
        let (mut off, mut on) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            eprintln!(
                "replicated writes: {writers} writer(s), round {}",
                round + 1
            );
            off.push(measure(&without, writers, bench.plan.write_seconds, "off", round).await?);
            on.push(measure(&with, writers, bench.plan.write_seconds, "on", round).await?);
        }
        let run = ReplicatedRun {
            writers,
            without_wait: Setting::median_of(&off),
            with_wait: Setting::median_of(&on),
        };
        eprintln!(
            "    without WAIT {:.0} ops/s, p50 {:.2} ms; with WAIT 1 {:.0} ops/s, p50 {:.2} ms \
             (throughput × {:.2}, p50 × {:.2})",
            run.without_wait.ops_per_second,
            run.without_wait.p50_ms,
            run.with_wait.ops_per_second,
            run.with_wait.p50_ms,
            run.throughput_ratio(),
            run.latency_ratio()
        );
        runs.push(run);
    }
    Ok(runs)
}

/// One round: `writers` WebSocket writers over `backends` for `seconds`.
async fn measure(
    backends: &[Replica],
    writers: usize,
    seconds: f64,
    setting: &str,
    round: usize,
) -> Result<(f64, Latency, u64)> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let name = format!("replicated-{setting}-{writers}-{round}");
    let mut tasks = JoinSet::new();
    for index in 0..writers {
        let url = backends[index % backends.len()].ws_url(&name);
        tasks.spawn(websocket_writer(url, index, deadline));
    }
    let mut histogram = latency::histogram();
    let (mut ops, mut errors) = (0, 0);
    while let Some(tally) = tasks.join_next().await {
        let tally = tally??;
        ops += tally.ops;
        errors += tally.errors;
        histogram.add(&tally.latency).ok();
    }
    let wall = started.elapsed().as_secs_f64();
    Ok((ops as f64 / wall, Latency::of(&histogram), errors))
}

impl Setting {
    fn median_of(rounds: &[(f64, Latency, u64)]) -> Setting {
        let median = |pick: &dyn Fn(&(f64, Latency, u64)) -> f64| {
            let mut values: Vec<f64> = rounds.iter().map(pick).collect();
            values.sort_by(f64::total_cmp);
            values.get(values.len() / 2).copied().unwrap_or(0.0)
        };
        Setting {
            ops_per_second: median(&|round| round.0),
            p50_ms: median(&|round| round.1.p50_ms),
            p99_ms: median(&|round| round.1.p99_ms),
            errors: rounds.iter().map(|round| round.2).sum(),
        }
    }
}

/// Waits until the replica reports its link to the primary up.
async fn wait_for_sync(standby: &Redis) -> Result<()> {
    let started = Instant::now();
    loop {
        let info = tokio::process::Command::new("redis-cli")
            .args(["-p", &standby.port.to_string(), "INFO", "replication"])
            .output()
            .await?;
        if String::from_utf8_lossy(&info.stdout).contains("master_link_status:up") {
            return Ok(());
        }
        if started.elapsed() > SYNC_TIMEOUT {
            bail!("the replica did not sync with its primary within {SYNC_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
