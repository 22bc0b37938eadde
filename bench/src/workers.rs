//! The coordinator's side of the subscriber worker processes ([`crate::worker`]): starting
//! them, asking them for a round's report, and stopping them.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::cluster::SourceAddresses;
use crate::latency::{self, Latency};
use crate::worker::{Command, Ready, RoundReport, WORKER_COMMAND};

/// Subscribers per worker process. A worker decodes its frames one after another, so a burst of
/// N frames queues in it: at 5,000 per worker that queue alone put a ~50 ms floor under the
/// latency. 2,500 keeps the floor lower and the processes few (and far from the 20,000 open
/// files a process may hold).
const SUBSCRIBERS_PER_WORKER: usize = 2_500;
/// Source addresses per worker: 2,500 connections need far fewer than one address's ports.
const SOURCES_PER_WORKER: usize = 2;
/// How long workers get to open their connections.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(180);

/// Subscriber worker processes, as seen from the coordinator.
pub struct Workers {
    /// The processes, in the order they were started.
    workers: Vec<Worker>,
    /// Connections open after the start, over all workers.
    pub connected: u64,
}

/// What all workers saw in one round, summed over their reports.
pub struct Tally {
    /// Send-to-receipt latency over every frame.
    pub latency: Latency,
    /// State frames received.
    pub frames: u64,
    /// Frames whose version was not above the previous one on the same connection.
    pub stale: u64,
    /// Connections that reached the final version.
    pub converged: u64,
    /// When the last of them first showed it (ns, shared clock).
    pub last_converged_ns: u64,
}

impl Tally {
    fn of(reports: &[RoundReport]) -> Tally {
        let mut histogram = latency::histogram();
        let (mut frames, mut stale, mut converged, mut last) = (0, 0, 0, 0);
        for report in reports {
            latency::add_pairs(&mut histogram, &report.latency_us);
            frames += report.frames;
            stale += report.stale;
            converged += report.converged;
            last = last.max(report.last_converged_ns);
        }
        Tally {
            latency: Latency::of(&histogram),
            frames,
            stale,
            converged,
            last_converged_ns: last,
        }
    }
}

/// One worker process and its two pipes.
struct Worker {
    /// The process, killed if it is dropped before it exits.
    child: Child,
    /// Where commands go, one JSON line each.
    stdin: ChildStdin,
    /// Where its `Ready` line and its round reports come from.
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Workers {
    /// Starts enough workers for `count` connections spread over `urls`, and waits until every
    /// connection is open (or failed).
    pub async fn start(
        urls: &[String],
        count: usize,
        sources: &mut SourceAddresses,
    ) -> Result<Workers> {
        Self::spawn(urls, count, sources, false).await
    }

    /// Like [`Workers::start`], but each connection watches a counter of its own: the
    /// counter of its URL with a number appended, unique over all workers.
    pub async fn start_numbered(
        urls: &[String],
        count: usize,
        sources: &mut SourceAddresses,
    ) -> Result<Workers> {
        Self::spawn(urls, count, sources, true).await
    }

    async fn spawn(
        urls: &[String],
        count: usize,
        sources: &mut SourceAddresses,
        numbered: bool,
    ) -> Result<Workers> {
        let exe = std::env::current_exe().context("cannot find the bench binary")?;
        let processes = count.div_ceil(SUBSCRIBERS_PER_WORKER).max(1);
        let mut workers = Vec::with_capacity(processes);
        let mut first = 0;
        for index in 0..processes {
            let share = count / processes + usize::from(index < count % processes);
            let mut command = tokio::process::Command::new(&exe);
            command
                .arg(WORKER_COMMAND)
                .arg("--connections")
                .arg(share.to_string());
            if numbered {
                command.arg("--numbered-from").arg(first.to_string());
            }
            first += share;
            for url in urls {
                command.arg("--url").arg(url);
            }
            for source in sources.take(SOURCES_PER_WORKER) {
                command.arg("--source").arg(source.to_string());
            }
            let mut child = command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .context("could not start a bench worker")?;
            let stdin = child.stdin.take().context("no stdin pipe")?;
            let stdout = BufReader::new(child.stdout.take().context("no stdout pipe")?).lines();
            workers.push(Worker {
                child,
                stdin,
                stdout,
            });
        }
        let mut connected = 0;
        let mut first_error = None;
        for worker in &mut workers {
            let line = tokio::time::timeout(CONNECT_TIMEOUT, worker.stdout.next_line())
                .await
                .context("a bench worker took too long to connect")??
                .context("a bench worker exited before connecting")?;
            let ready: Ready = serde_json::from_str(&line)?;
            connected += ready.connected;
            if first_error.is_none() {
                first_error = ready.first_error;
            }
        }
        if connected < count as u64 {
            eprintln!(
                "warning: {connected} of {count} subscribers connected; first error: {}",
                first_error.as_deref().unwrap_or("none")
            );
        }
        Ok(Workers { workers, connected })
    }

    pub fn pids(&self) -> Vec<Option<u32>> {
        self.workers
            .iter()
            .map(|worker| worker.child.id())
            .collect()
    }

    /// Tells every worker the round is over and sums up their reports, each due within
    /// `report_within`.
    pub async fn round(&mut self, command: &Command, report_within: Duration) -> Result<Tally> {
        let mut line = serde_json::to_string(command)?;
        line.push('\n');
        for worker in &mut self.workers {
            worker.stdin.write_all(line.as_bytes()).await?;
            worker.stdin.flush().await?;
        }
        let mut reports = Vec::with_capacity(self.workers.len());
        for worker in &mut self.workers {
            let line = tokio::time::timeout(report_within, worker.stdout.next_line())
                .await
                .context("a bench worker did not report")??
                .context("a bench worker exited during a round")?;
            reports.push(serde_json::from_str(&line)?);
        }
        Ok(Tally::of(&reports))
    }

    pub async fn stop(mut self) {
        for worker in &mut self.workers {
            let line = serde_json::to_string(&Command::Stop).unwrap_or_default() + "\n";
            let _ = worker.stdin.write_all(line.as_bytes()).await;
        }
        for worker in &mut self.workers {
            if tokio::time::timeout(Duration::from_secs(10), worker.child.wait())
                .await
                .is_err()
            {
                let _ = worker.child.kill().await;
            }
        }
    }
}
