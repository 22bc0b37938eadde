//! Benchmark 2, write throughput: W concurrent writers over WebSocket and over REST, spread
//! over the replicas, each with one change in flight; and `redis-benchmark` running the same
//! Lua script directly (`EVALSHA` of the backend's `APPLY_SCRIPT`, `publish_state.lua` +
//! `apply.lua`), the limit of this box. With `--embedded-writes`, the same writers against
//! one replica on the embedded store, and how many changes each of its commits carried.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use shared::ServerMessage;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, increment_frame, wait_for_state};
use crate::harness::Bench;
use crate::latency::{self, Latency, now_ns};
use crate::plan::Scope;
use crate::usage::CpuSplit;

/// The embedded store's count of write transactions committed, in `/metrics`.
const COMMITS: &str = "counter_store_commits_total";

#[derive(Debug, Serialize)]
pub struct WriteResults {
    /// What the writers wrote to (`2 replicas on Redis`), as the report's heading says it.
    pub setup: String,
    /// One per transport and number of writers.
    pub runs: Vec<WriteRun>,
    /// `redis-benchmark`'s requests per second for the script, 50 clients, no pipelining (0
    /// when the writers wrote to the embedded store, and it did not run).
    pub redis_benchmark_ops_per_second: f64,
    /// `redis-benchmark`'s median latency, beside the writers' own.
    pub redis_benchmark_p50_ms: f64,
    /// CPU while `redis-benchmark` ran (its own process is not included).
    pub redis_benchmark_cpu: CpuSplit,
}

#[derive(Debug, Serialize)]
pub struct WriteRun {
    /// `websocket` or `rest`.
    pub transport: &'static str,
    /// Concurrent writers, each with one change in flight.
    pub writers: usize,
    /// Changes answered with an ack.
    pub ops: u64,
    /// Changes refused, failed or unanswered.
    pub errors: u64,
    /// `ops` over the wall time.
    pub ops_per_second: f64,
    /// From sending a change until its answer.
    pub latency: Latency,
    /// Who spent the CPU meanwhile.
    pub cpu: CpuSplit,
    /// On the embedded store, changes acked per write transaction committed (one fsync
    /// each): how much the group commit gathered. `None` on Redis, or from a backend that
    /// does not count its commits.
    pub changes_per_commit: Option<f64>,
}

impl WriteResults {
    /// `ops_per_second` as a share of `redis-benchmark`'s rate (0 when that is unknown).
    pub fn share_of_redis_benchmark(&self, ops_per_second: f64) -> f64 {
        if self.redis_benchmark_ops_per_second > 0.0 {
            ops_per_second / self.redis_benchmark_ops_per_second
        } else {
            0.0
        }
    }
}

/// What one writer task measured.
pub(crate) struct Tally {
    /// Changes answered with an ack.
    pub(crate) ops: u64,
    /// Changes refused or unanswered.
    pub(crate) errors: u64,
    /// Latencies of the answered ones, in µs.
    pub(crate) latency: hdrhistogram::Histogram<u64>,
}

impl Tally {
    fn new() -> Self {
        Self {
            ops: 0,
            errors: 0,
            latency: latency::histogram(),
        }
    }

    /// Counts one change sent at `sent`: its latency if it was answered, else an error.
    fn record(&mut self, answered: bool, sent: Instant) {
        if answered {
            self.ops += 1;
            self.latency
                .saturating_record((sent.elapsed().as_micros() as u64).max(1));
        } else {
            self.errors += 1;
        }
    }
}

pub async fn run(bench: &mut Bench) -> Result<WriteResults> {
    let embedded = bench.plan.scope == Scope::EmbeddedWrites;
    let commits = async |bench: &Bench| match embedded {
        true => bench.replicas[0].metric(COMMITS).await,
        false => Ok(None),
    };
    let mut runs = Vec::new();
    let seconds = bench.plan.write_seconds;
    for &writers in &bench.plan.writers.clone() {
        for transport in ["websocket", "rest"] {
            eprintln!("writes: {writers} writer(s) over {transport}");
            let processes = bench.system_pids();
            let commits_before = commits(bench).await?;
            let before = processes.sample();
            let started = Instant::now();
            let deadline = started + Duration::from_secs_f64(seconds);
            let mut tasks = JoinSet::new();
            let rest = reqwest::Client::builder()
                .pool_max_idle_per_host(writers)
                .build()?;
            for index in 0..writers {
                let replica = &bench.replicas[index % bench.replicas.len()];
                let name = format!("writes-{transport}-{writers}");
                if transport == "websocket" {
                    let url = replica.ws_url(&name);
                    tasks.spawn(websocket_writer(url, index, deadline));
                } else {
                    let url = replica.http_url(&format!("/api/counters/{name}/increment"));
                    tasks.spawn(rest_writer(rest.clone(), url, index, deadline));
                }
            }
            let mut latency = latency::histogram();
            let (mut ops, mut errors) = (0, 0);
            while let Some(tally) = tasks.join_next().await {
                let tally = tally??;
                ops += tally.ops;
                errors += tally.errors;
                latency.add(&tally.latency).ok();
            }
            let wall = started.elapsed().as_secs_f64();
            let after = processes.sample();
            let changes_per_commit = match (commits_before, commits(bench).await?) {
                (Some(before), Some(after)) if after > before => {
                    Some(ops as f64 / (after - before))
                }
                _ => None,
            };
            let run = WriteRun {
                transport,
                writers,
                ops,
                errors,
                ops_per_second: ops as f64 / wall,
                latency: Latency::of(&latency),
                cpu: CpuSplit::between(&before, &after, bench.ticks_per_second),
                changes_per_commit,
            };
            eprintln!(
                "    {:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
                run.ops_per_second, run.latency.p50_ms, run.latency.p99_ms, run.errors
            );
            if let Some(per_commit) = run.changes_per_commit {
                eprintln!("    {per_commit:.1} changes per commit");
            }
            runs.push(run);
        }
    }
    if embedded {
        return Ok(WriteResults {
            setup: "1 replica on the embedded store".into(),
            runs,
            redis_benchmark_ops_per_second: 0.0,
            redis_benchmark_p50_ms: 0.0,
            redis_benchmark_cpu: CpuSplit::default(),
        });
    }

    eprintln!("writes: redis-benchmark EVALSHA apply.lua");
    let processes = bench.system_pids();
    let before = processes.sample();
    let (rps, p50) = redis_benchmark(bench).await?;
    let after = processes.sample();
    eprintln!("    {rps:.0} ops/s, p50 {p50:.2} ms");
    Ok(WriteResults {
        setup: format!("{} replicas on Redis", bench.replicas.len()),
        runs,
        redis_benchmark_ops_per_second: rps,
        redis_benchmark_p50_ms: p50,
        redis_benchmark_cpu: CpuSplit::between(&before, &after, bench.ticks_per_second),
    })
}

/// One WebSocket writer: increments one at a time, each after the previous ack, until the
/// deadline.
pub(crate) async fn websocket_writer(
    url: String,
    index: usize,
    deadline: Instant,
) -> Result<Tally> {
    let mut socket = client::connect(&url, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
    wait_for_state(&mut socket).await?;
    let mut tally = Tally::new();
    let mut sequence = 0u64;
    while Instant::now() < deadline {
        let op_id = format!("w{index}-{}-{sequence}", now_ns());
        sequence += 1;
        let sent = Instant::now();
        socket.send(Message::text(increment_frame(op_id)?)).await?;
        let answered = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(message) = socket.next().await {
                let Message::Text(text) = message? else {
                    continue;
                };
                match serde_json::from_str(text.as_str()) {
                    Ok(ServerMessage::Ack { .. }) => return Ok(true),
                    Ok(ServerMessage::Error { .. }) => return Ok(false),
                    _ => {}
                }
            }
            bail!("the writer's connection closed")
        })
        .await
        .context("no answer within 10 s")??;
        tally.record(answered, sent);
    }
    Ok(tally)
}

/// One REST writer over a keep-alive connection: POST …/increment with a fresh `op_id`.
async fn rest_writer(
    http: reqwest::Client,
    url: String,
    index: usize,
    deadline: Instant,
) -> Result<Tally> {
    let mut tally = Tally::new();
    let mut sequence = 0u64;
    while Instant::now() < deadline {
        let op_id = format!("r{index}-{}-{sequence}", now_ns());
        sequence += 1;
        let sent = Instant::now();
        let response = http
            .post(&url)
            .header("content-type", "application/json")
            .body(format!(r#"{{"by":1,"op_id":"{op_id}"}}"#))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let ok = match response {
            Ok(response) => {
                let ok = response.status().is_success();
                let _ = response.bytes().await;
                ok
            }
            Err(_) => false,
        };
        tally.record(ok, sent);
    }
    Ok(tally)
}

/// Loads the backend's apply script into the benchmark's Redis and runs `redis-benchmark` on
/// it: 50 clients, no pipelining, a fresh random `op_id` key per call (`__rand_int__` with
/// `-r`), the same keys and arguments the backend passes. Returns (requests per second, p50 in ms).
async fn redis_benchmark(bench: &Bench) -> Result<(f64, f64)> {
    let script = backend::store::redis::APPLY_SCRIPT;
    let port = bench.redis.port.to_string();
    let loaded = tokio::process::Command::new("redis-cli")
        .args(["-p", &port, "SCRIPT", "LOAD", script])
        .output()
        .await
        .context("could not run redis-cli")?;
    let sha = String::from_utf8_lossy(&loaded.stdout).trim().to_owned();
    if sha.len() != 40 {
        bail!("SCRIPT LOAD answered {sha:?}");
    }
    let requests = bench.plan.redis_benchmark_requests.to_string();
    let output = tokio::process::Command::new("redis-benchmark")
        .args(["-p", &port, "-n", &requests, "-c", "50", "-P", "1"])
        .args(["-r", "1000000000", "--csv"])
        // Version 2's layout: value, version, meta, history stream, op record; an open
        // counter's increment of 1 under a fresh op_id, recorded in the history.
        .args(["evalsha", &sha, "5", "counter:{rb}", "counter:{rb}:version"])
        .args([
            "counter:{rb}:meta",
            "counter:{rb}:log",
            "counter:{rb}:op:__rand_int__",
        ])
        .args([
            "1",
            "86400",
            "counter:{rb}",
            "rb",
            "1",
            "",
            "increment",
            "0",
        ])
        .args(["100000", "rb-op", "", "1", "PUBLISH"])
        .output()
        .await
        .context("could not run redis-benchmark")?;
    let text = String::from_utf8_lossy(&output.stdout);
    // `--csv`: a header line, then "test","rps","avg_latency_ms","min_latency_ms",
    // "p50_latency_ms",…
    let row = text
        .lines()
        .rev()
        .find(|line| line.starts_with('"') && !line.starts_with("\"test\""))
        .with_context(|| format!("unexpected redis-benchmark output: {text}"))?;
    let fields: Vec<f64> = row
        .split(',')
        .skip(1)
        .map(|field| field.trim_matches('"').parse().unwrap_or(0.0))
        .collect();
    let rps = fields.first().copied().unwrap_or(0.0);
    let p50 = fields.get(3).copied().unwrap_or(0.0);
    Ok((rps, p50))
}
