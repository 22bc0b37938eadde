//! Benchmark 1, fan-out: N subscribers over the replicas, one writer changing the counter U
//! times a second; how fast and how completely every change reaches every subscriber.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use anyhow::{Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use shared::ServerMessage;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, increment_frame, wait_for_state};
use crate::fanout_floor::{self, FloorResult};
use crate::harness::Bench;
use crate::latency::{Latency, now_ns};
use crate::usage::{self, CpuSplit};
use crate::worker::Command;
use crate::workers::Workers;

/// How long the writer waits for the acks of its changes after sending the last one; a
/// replica that falls behind the schedule works through the backlog meanwhile.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// How long after the last change a subscriber may take before it counts as not converged.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(10);

/// One cell of the fan-out table.
#[derive(Debug, Serialize)]
pub struct FanoutResult {
    /// Subscribers asked for.
    pub subscribers: usize,
    /// Subscribers that connected: the round measures these.
    pub connected: u64,
    /// The writer's schedule.
    pub changes_per_second: u32,
    /// Changes the writer made (acknowledged).
    pub changes: u64,
    /// From sending a change until a subscriber decoded its state frame, over every frame.
    pub latency: Latency,
    /// State frames all subscribers received per second of the round.
    pub frames_per_second: f64,
    /// Frames delivered over frames that would be if nobody skipped a version.
    pub delivered_share: f64,
    /// Frames whose version was not above the previous one on the same connection: the
    /// protocol promises there are none.
    pub stale_frames: u64,
    /// Subscribers that never showed the final value within the timeout.
    pub not_converged: u64,
    /// From sending the last change until the last subscriber showed it.
    pub converge_ms: f64,
    /// From the last change's ack (it was applied) until the last subscriber showed it: the
    /// fan-out's share of `converge_ms`, without the time the change queued before applying.
    /// Negative when a subscriber saw the state before the writer saw its ack.
    pub converge_after_ack_ms: f64,
    /// Who spent the CPU during the round.
    pub cpu: CpuSplit,
    /// The replicas' CPU time per frame delivered, in µs: what the floor is compared with.
    pub replica_cpu_us_per_frame: f64,
    /// Resident memory of each replica at the end of the round.
    pub replica_rss_mib: Vec<f64>,
    /// The same round from blocking writers instead of the replicas; `None` if it failed.
    pub floor: Option<FloorResult>,
}

impl FanoutResult {
    /// The round on one line, as it is printed while the benchmark runs.
    pub fn summary(&self) -> String {
        format!(
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {:.0} frames/s ({:.0} % of versions), \
             {} stale, {} not converged, converged {:.1} ms after the last change ({:.1} ms after its ack), \
             CPU replicas {:.0} % redis {:.0} % generator {:.0} %",
            self.latency.p50_ms,
            self.latency.p99_ms,
            self.latency.max_ms,
            self.frames_per_second,
            self.delivered_share * 100.0,
            self.stale_frames,
            self.not_converged,
            self.converge_ms,
            self.converge_after_ack_ms,
            self.cpu.replicas_pct,
            self.cpu.redis_pct,
            self.cpu.generator_pct,
        )
    }

    /// The replicas' CPU per delivered frame over the floor's, when the floor was measured.
    pub fn floor_ratio(&self) -> Option<f64> {
        let floor = self.floor.as_ref()?.cpu_us_per_frame;
        (floor > 0.0).then(|| self.replica_cpu_us_per_frame / floor)
    }

    /// The floor of the round on one line, as it is printed while the benchmark runs.
    fn floor_summary(&self) -> String {
        let Some(floor) = &self.floor else {
            return "floor: not measured".to_owned();
        };
        format!(
            "floor: p50 {:.1} ms, p99 {:.1} ms, {:.0} frames/s ({:.0} % of versions); CPU per frame \
             replicas {:.2} µs, blocking writers {:.2} µs: {:.2}×",
            floor.latency.p50_ms,
            floor.latency.p99_ms,
            floor.frames_per_second,
            floor.delivered_share * 100.0,
            self.replica_cpu_us_per_frame,
            floor.cpu_us_per_frame,
            self.floor_ratio().unwrap_or(f64::NAN),
        )
    }
}

/// What the writer did in one round.
struct Changes {
    /// (version, send time) of every acknowledged change.
    send_times: Vec<(u64, u64)>,
    /// The version of the last acknowledged change: every subscriber must reach it.
    final_version: u64,
    /// When the change that produced `final_version` was sent.
    last_send_ns: u64,
    /// When its ack came back: the replica had applied it by then.
    last_ack_ns: u64,
    /// Wall time from the first send to the last.
    elapsed: Duration,
}

/// Runs the fan-out benchmark for every subscriber count and change rate of the plan.
pub async fn run(bench: &mut Bench) -> Result<Vec<FanoutResult>> {
    let mut results = Vec::new();
    for (subscribers, rates) in bench.plan.fanout.clone() {
        let name = format!("fanout-{subscribers}");
        let urls: Vec<String> = bench
            .replicas
            .iter()
            .map(|replica| replica.ws_url(&name))
            .collect();
        eprintln!("fan-out: connecting {subscribers} subscribers");
        let mut workers = Workers::start(&urls, subscribers, &mut bench.sources).await?;
        // Let the replicas settle (presence updates after the connection storm).
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut writer = client::connect(&urls[0], IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
        wait_for_state(&mut writer).await?;
        for &rate in &rates {
            eprintln!("fan-out: {subscribers} subscribers, {rate} changes/s");
            let mut processes = bench.system_pids();
            let generator_pids = workers.pids();
            processes.generator.extend(generator_pids);
            let before = processes.sample();
            let changes = make_changes(&mut writer, rate, bench.plan.fanout_seconds).await?;
            let tally = workers
                .round(
                    &Command::Round {
                        final_version: changes.final_version,
                        send_times: changes.send_times.clone(),
                        timeout_ms: CONVERGE_TIMEOUT.as_millis() as u64,
                    },
                    CONVERGE_TIMEOUT * 3,
                )
                .await?;
            let after = processes.sample();
            let wall = changes.elapsed.as_secs_f64().max(0.001);
            let cpu = CpuSplit::between(&before, &after, bench.ticks_per_second);
            results.push(FanoutResult {
                subscribers,
                connected: workers.connected,
                changes_per_second: rate,
                changes: changes.send_times.len() as u64,
                latency: tally.latency,
                frames_per_second: tally.frames as f64 / wall,
                delivered_share: share(
                    tally.frames,
                    changes.send_times.len() as u64,
                    workers.connected,
                ),
                stale_frames: tally.stale,
                // Connections lost during the round count as not converged.
                not_converged: workers.connected.saturating_sub(tally.converged),
                converge_ms: tally.last_converged_ns.saturating_sub(changes.last_send_ns) as f64
                    / 1e6,
                converge_after_ack_ms: (tally.last_converged_ns as f64
                    - changes.last_ack_ns as f64)
                    / 1e6,
                cpu,
                replica_cpu_us_per_frame: cpu.server_us_per(tally.frames),
                replica_rss_mib: bench
                    .replicas
                    .iter()
                    .map(|replica| usage::rss(replica.pid()) as f64 / 1048576.0)
                    .collect(),
                floor: None,
            });
            eprintln!("    {}", results.last().unwrap().summary());
        }
        drop(writer);
        workers.stop().await;
        // The floor of the same rounds, now that the replicas' subscribers are gone. Without
        // it the replicas' figures still stand.
        let floors = fanout_floor::run(bench, subscribers, &rates)
            .await
            .inspect_err(|error| eprintln!("warning: the fan-out floor failed: {error:#}"))
            .unwrap_or_default();
        let this_count = results.len() - rates.len();
        for (result, floor) in results[this_count..].iter_mut().zip(floors) {
            result.floor = Some(floor);
            eprintln!("    {}", result.floor_summary());
        }
    }
    Ok(results)
}

/// Frames delivered over frames that would be if no subscriber skipped a version.
pub fn share(frames: u64, changes: u64, connected: u64) -> f64 {
    let ideal = changes as f64 * connected as f64;
    if ideal > 0.0 {
        frames as f64 / ideal
    } else {
        0.0
    }
}

/// Sends `rate` increments a second for `seconds` on a schedule (not waiting for acks), and
/// learns each change's version from its ack.
async fn make_changes(socket: &mut client::Socket, rate: u32, seconds: f64) -> Result<Changes> {
    let count = ((f64::from(rate) * seconds).round() as u64).max(1);
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let round = now_ns();
    let mut sent_at: Vec<u64> = Vec::with_capacity(count as usize);
    let mut versions: HashMap<u64, u64> = HashMap::new();
    let mut acked_at: HashMap<u64, u64> = HashMap::new();
    let start = tokio::time::Instant::now();
    let (mut sink, mut stream) = socket.split();
    let mut next = 0;
    let mut read_deadline = None;
    loop {
        let due = start + period.mul_f64(next as f64);
        tokio::select! {
            () = tokio::time::sleep_until(due), if next < count => {
                sent_at.push(now_ns());
                sink.send(Message::text(increment_frame(format!("f{round}-{next}"))?)).await?;
                next += 1;
                if next == count {
                    read_deadline = Some(tokio::time::Instant::now() + ACK_TIMEOUT);
                }
            }
            () = async { tokio::time::sleep_until(read_deadline.unwrap()).await }, if read_deadline.is_some() => {
                eprintln!("warning: {} of {count} changes were not acknowledged", count - versions.len() as u64);
                break;
            }
            message = stream.next() => {
                let Some(message) = message else { bail!("the writer's connection closed") };
                let Message::Text(text) = message? else { continue };
                match serde_json::from_str(text.as_str()) {
                    Ok(ServerMessage::Ack { op_id: Some(op_id), version, .. }) => {
                        if let Some(index) = op_id.as_str().rsplit('-').next().and_then(|i| i.parse::<u64>().ok()) {
                            versions.insert(index, version);
                            acked_at.insert(version, now_ns());
                        }
                    }
                    Ok(ServerMessage::Error { code, message, .. }) => {
                        eprintln!("warning: the writer's change was refused: {} {message}", code.as_str());
                        versions.insert(u64::MAX - versions.len() as u64, 0);
                    }
                    _ => {}
                }
                if versions.len() as u64 >= count {
                    break;
                }
            }
        }
    }
    let elapsed = start.elapsed();
    let mut send_times: Vec<(u64, u64)> = versions
        .iter()
        .filter_map(|(&index, &version)| Some((version, *sent_at.get(index as usize)?)))
        .filter(|(version, _)| *version > 0)
        .collect();
    send_times.sort_unstable();
    let (final_version, last_send_ns) = send_times.last().copied().unwrap_or((0, now_ns()));
    let last_ack_ns = acked_at
        .get(&final_version)
        .copied()
        .unwrap_or(last_send_ns);
    Ok(Changes {
        send_times,
        final_version,
        last_send_ns,
        last_ack_ns,
        elapsed,
    })
}
