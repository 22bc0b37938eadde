//! The fan-out's floor, measured in the same run as the replicas: the same number of
//! subscribers, from the same worker processes, sent the same state frames on the same
//! schedule by blocking writers ([`crate::blocking_writer`], one process per replica) instead
//! of the replicas. Their CPU per delivered frame is the kernel's loopback TCP cost, what a
//! replica's is quoted against.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser as _;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::blocking_writer::{self, Done, Listening, Round};
use crate::fanout::share;
use crate::harness::Bench;
use crate::latency::{Latency, now_ns};
use crate::usage::{CpuSplit, Processes};
use crate::worker::Command;
use crate::workers::Workers;

/// How long the writers get to start and the workers to hear of a round's end: as for the
/// replicas' rounds.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(10);
/// How far ahead of its first version a round is scheduled, so that both writers have read it.
const LEAD: Duration = Duration::from_millis(100);

/// One fan-out round from the blocking writers.
#[derive(Debug, Serialize)]
pub struct FloorResult {
    /// Subscribers that connected to the writers: the round measures these.
    pub connected: u64,
    /// From a version's due time until a subscriber decoded its frame, over every frame.
    pub latency: Latency,
    /// State frames all subscribers received per second of the round.
    pub frames_per_second: f64,
    /// Frames delivered over frames that would be if nobody skipped a version.
    pub delivered_share: f64,
    /// Subscribers that never showed the final version within the timeout.
    pub not_converged: u64,
    /// Who spent the CPU during the round; `replicas_pct` is the blocking writers'.
    pub cpu: CpuSplit,
    /// The writers' CPU time per frame delivered, in µs: the floor.
    pub cpu_us_per_frame: f64,
}

/// Connects `subscribers` worker connections to one blocking writer per replica and runs the
/// rounds of `rates`, as [`crate::fanout::run`] ran them against the replicas.
pub async fn run(bench: &mut Bench, subscribers: usize, rates: &[u32]) -> Result<Vec<FloorResult>> {
    let name = format!("fanout-{subscribers}");
    let mut writers = Vec::with_capacity(bench.replicas.len());
    for _ in 0..bench.replicas.len() {
        writers.push(Writer::start(&name).await?);
    }
    let urls: Vec<String> = writers
        .iter()
        .map(|writer| format!("ws://127.0.0.1:{}/ws/counters/{name}", writer.port))
        .collect();
    eprintln!("fan-out floor: connecting {subscribers} subscribers to blocking writers");
    let mut workers = Workers::start(&urls, subscribers, &mut bench.sources).await?;
    let mut results = Vec::with_capacity(rates.len());
    // Each round's versions follow the last round's; the writers sent version 0 first.
    let mut first_version = 1;
    for &rate in rates {
        eprintln!("fan-out floor: {subscribers} subscribers, {rate} changes/s");
        let processes = Processes {
            replicas: writers.iter().map(|writer| writer.child.id()).collect(),
            redis: None,
            generator: std::iter::once(Some(std::process::id()))
                .chain(workers.pids())
                .collect(),
        };
        let count = ((f64::from(rate) * bench.plan.fanout_seconds).round() as u64).max(1);
        let round = Round {
            first_version,
            count,
            start_ns: now_ns() + LEAD.as_nanos() as u64,
            period_ns: 1_000_000_000 / u64::from(rate.max(1)),
        };
        first_version += count;
        let before = processes.sample();
        let line = serde_json::to_string(&round)? + "\n";
        for writer in &mut writers {
            writer.stdin.write_all(line.as_bytes()).await?;
            writer.stdin.flush().await?;
        }
        let within = Duration::from_nanos(round.period_ns * count) + LEAD + CONVERGE_TIMEOUT * 3;
        for writer in &mut writers {
            let done: Done = writer.read_line(within).await?;
            if done.dropped > 0 {
                eprintln!("warning: a blocking writer lost {} sockets", done.dropped);
            }
        }
        let wall = now_ns().saturating_sub(round.start_ns) as f64 / 1e9;
        let send_times: Vec<(u64, u64)> = (0..count)
            .map(|k| {
                (
                    round.first_version + k,
                    round.start_ns + k * round.period_ns,
                )
            })
            .collect();
        let command = Command::Round {
            final_version: round.first_version + count - 1,
            send_times,
            timeout_ms: CONVERGE_TIMEOUT.as_millis() as u64,
        };
        let tally = workers.round(&command, CONVERGE_TIMEOUT * 3).await?;
        let after = processes.sample();
        let cpu = CpuSplit::between(&before, &after, bench.ticks_per_second);
        results.push(FloorResult {
            connected: workers.connected,
            latency: tally.latency,
            frames_per_second: tally.frames as f64 / wall.max(0.001),
            delivered_share: share(tally.frames, count, workers.connected),
            not_converged: workers.connected.saturating_sub(tally.converged),
            cpu,
            cpu_us_per_frame: cpu.server_us_per(tally.frames),
        });
    }
    workers.stop().await;
    Ok(results)
}

/// One blocking writer process, as seen from the coordinator; killed when dropped.
struct Writer {
    /// The process, whose CPU is the floor.
    child: Child,
    /// Where rounds go, one JSON line each; closing it ends the process.
    stdin: ChildStdin,
    /// Where its `Listening` line and its round accounts come from.
    stdout: Lines<BufReader<ChildStdout>>,
    /// Its port on 127.0.0.1.
    port: u16,
}

impl Writer {
    /// Starts a writer of counter `name`'s frames, paced as a replica would pace them.
    async fn start(name: &str) -> Result<Writer> {
        let exe = std::env::current_exe().context("cannot find the bench binary")?;
        let mut child = tokio::process::Command::new(exe)
            .arg(blocking_writer::COMMAND)
            .args(["--name", name])
            .arg("--interval-ms")
            .arg(state_interval_ms().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("could not start a blocking writer")?;
        let stdin = child.stdin.take().context("no stdin pipe")?;
        let stdout = BufReader::new(child.stdout.take().context("no stdout pipe")?).lines();
        let mut writer = Writer {
            child,
            stdin,
            stdout,
            port: 0,
        };
        let listening: Listening = writer.read_line(CONVERGE_TIMEOUT).await?;
        writer.port = listening.port;
        Ok(writer)
    }

    /// Its next line, due within `within`.
    async fn read_line<T: serde::de::DeserializeOwned>(&mut self, within: Duration) -> Result<T> {
        let line = tokio::time::timeout(within, self.stdout.next_line())
            .await
            .context("a blocking writer did not answer in time")??
            .context("a blocking writer exited")?;
        Ok(serde_json::from_str(&line)?)
    }
}

/// The replicas' `--state-interval-ms` as they are started: the backend's default, or what
/// `STATE_INTERVAL_MS` in the environment they inherit says.
fn state_interval_ms() -> u64 {
    backend::config::Config::try_parse_from(["backend"])
        .map_or(16, |config| config.state_interval_ms)
}
