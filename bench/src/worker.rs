//! `bench worker` (hidden): one process of the load generator's subscribers.
//!
//! A process here may hold at most 20,000 open files, so the coordinator starts several workers
//! (the bench binary itself, re-executed; its side is `workers.rs`) and talks to each over its
//! standard input and output, one JSON line per message:
//! 1. the worker opens its connections and prints a [`Ready`] line;
//! 2. for each [`Command::Round`] it waits until every live connection has seen the round's
//!    final version (or the timeout passes) and prints a [`RoundReport`];
//! 3. on [`Command::Stop`] or the end of its input it exits, dropping every connection.
//!
//! Receipt times are taken the moment a frame is decoded, with the clock shared by all
//! processes ([`now_ns`]), so latency includes any queueing in the generator itself.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use shared::ServerMessage;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::Message;

use crate::client;
use crate::latency::{self, now_ns};

/// The hidden subcommand that makes the bench binary a worker.
pub const WORKER_COMMAND: &str = "worker";
/// How many handshakes one worker has in flight at once.
const CONNECT_CONCURRENCY: usize = 128;

#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// A WebSocket URL to subscribe to; connections go round-robin over all of them.
    #[arg(long = "url", required = true)]
    urls: Vec<String>,
    /// A local source address for the connections; used in turn.
    #[arg(long = "source", required = true)]
    sources: Vec<IpAddr>,
    /// How many connections to open.
    #[arg(long)]
    connections: usize,
    /// Gives every connection a counter of its own: connection k watches the counter of its
    /// URL with `-{numbered_from + k}` appended (idle counters, one socket each).
    #[arg(long)]
    numbered_from: Option<usize>,
}

/// The first line a worker prints: how its connections went.
#[derive(Debug, Serialize, Deserialize)]
pub struct Ready {
    /// Connections open and subscribed (their first state frame arrived).
    pub connected: u64,
    /// Connections that could not be opened.
    pub failed: u64,
    /// The first connection error, to say why in the report.
    pub first_error: Option<String>,
}

/// What the coordinator asks, one JSON line each.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// The writer made changes up to `final_version`; `send_times` maps each version it learnt
    /// from an ack to when the change was sent.
    Round {
        final_version: u64,
        send_times: Vec<(u64, u64)>,
        /// How long the worker waits for its connections to reach `final_version`.
        timeout_ms: u64,
    },
    /// The benchmark is over: close every connection and exit.
    Stop,
}

/// A worker's account of one round.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RoundReport {
    /// State frames received after each connection's first.
    pub frames: u64,
    /// Frames whose version was not above the previous one on the same connection.
    pub stale: u64,
    /// Send-to-receipt latencies in µs, as histogram `(value, count)` pairs.
    pub latency_us: Vec<(u64, u64)>,
    /// Connections that reached the final version.
    pub converged: u64,
    /// When the last connection to converge received the final version (ns, shared clock).
    pub last_converged_ns: u64,
}

/// What a connection task tells the worker's bookkeeping.
enum Event {
    /// The connection is open and its first state frame (where it starts, not a delivery)
    /// carried this version.
    Connected {
        conn: usize,
        version: u64,
    },
    /// The connection could not be opened; it takes no part in rounds.
    Failed {
        conn: usize,
        error: String,
    },
    Frame {
        conn: usize,
        version: u64,
        at_ns: u64,
    },
    Closed {
        conn: usize,
    },
}

pub fn worker(args: &WorkerArgs) -> Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the tokio runtime")?
        .block_on(run(args))
}

async fn run(args: &WorkerArgs) -> Result<()> {
    let (events, mut received) = mpsc::unbounded_channel();
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    for conn in 0..args.connections {
        let mut url = args.urls[conn % args.urls.len()].clone();
        if let Some(first) = args.numbered_from {
            url = format!("{url}-{}", first + conn);
        }
        let source = args.sources[(conn / args.urls.len()) % args.sources.len()];
        tokio::spawn(subscriber(
            conn,
            url,
            source,
            events.clone(),
            permits.clone(),
        ));
    }
    drop(events);

    let mut ready = Ready {
        connected: 0,
        failed: 0,
        first_error: None,
    };
    let mut book = Book::new(args.connections);
    while ready.connected + ready.failed < args.connections as u64 {
        let event = received
            .recv()
            .await
            .context("every connection task ended")?;
        match &event {
            Event::Connected { .. } => ready.connected += 1,
            Event::Failed { error, .. } => {
                ready.failed += 1;
                ready.first_error.get_or_insert_with(|| error.clone());
            }
            Event::Frame { .. } | Event::Closed { .. } => {}
        }
        book.apply(event);
    }
    println!("{}", serde_json::to_string(&ready)?);

    let mut commands = BufReader::new(tokio::io::stdin()).lines();
    loop {
        let Some(line) = commands.next_line().await? else {
            return Ok(());
        };
        let (final_version, send_times, timeout_ms) = match serde_json::from_str(&line)? {
            Command::Stop => return Ok(()),
            Command::Round {
                final_version,
                send_times,
                timeout_ms,
            } => (final_version, send_times, timeout_ms),
        };
        let send_times: HashMap<u64, u64> = send_times.into_iter().collect();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms);
        let mut report = RoundReport::default();
        let mut latency = latency::histogram();
        // Frames that arrived since the last round belong to this one.
        for (version, at_ns) in book.take_receipts() {
            record(&mut latency, &send_times, version, at_ns);
        }
        // One timer for the round, and events taken in batches: the bookkeeping must cost
        // little next to the frames it counts, or it would show up as latency.
        let timeout = tokio::time::sleep_until(deadline);
        tokio::pin!(timeout);
        let mut batch = Vec::with_capacity(1024);
        book.start_round(final_version);
        while !book.all_reached() {
            let taken = tokio::select! {
                taken = received.recv_many(&mut batch, 1024) => taken,
                () = &mut timeout => 0,
            };
            if taken == 0 {
                break;
            }
            for event in batch.drain(..) {
                book.apply(event);
            }
        }
        // Drain what is already queued, so the counts are complete.
        while let Ok(event) = received.try_recv() {
            book.apply(event);
        }
        for (version, at_ns) in book.take_receipts() {
            record(&mut latency, &send_times, version, at_ns);
        }
        report.frames = book.take_frames();
        report.stale = book.take_stale();
        report.latency_us = latency::to_pairs(&latency);
        report.converged = book
            .last_version
            .iter()
            .zip(&book.alive)
            .filter(|(version, alive)| **alive && **version >= final_version)
            .count() as u64;
        report.last_converged_ns = book.take_last_converged();
        println!("{}", serde_json::to_string(&report)?);
    }
}

fn record(
    latency: &mut hdrhistogram::Histogram<u64>,
    send_times: &HashMap<u64, u64>,
    version: u64,
    at_ns: u64,
) {
    if let Some(sent) = send_times.get(&version) {
        latency.saturating_record((at_ns.saturating_sub(*sent) / 1000).max(1));
    }
}

/// The worker's bookkeeping of its connections between rounds.
struct Book {
    /// The newest version each connection has seen.
    last_version: Vec<u64>,
    /// Whether each connection is still open.
    alive: Vec<bool>,
    /// (version, receipt time) of every frame since the last report.
    receipts: Vec<(u64, u64)>,
    /// State frames since the last report.
    frames: u64,
    /// Stale frames since the last report.
    stale: u64,
    /// The latest time a connection first reached the round's final version.
    last_converged_ns: u64,
    /// The version the round waits for (0 outside rounds).
    final_version: u64,
    /// Open connections below `final_version`: kept as a count, as scanning every connection
    /// after each event cost the worker more than the frames themselves.
    behind: usize,
}

impl Book {
    fn new(connections: usize) -> Book {
        Book {
            last_version: vec![0; connections],
            alive: vec![true; connections],
            receipts: Vec::new(),
            frames: 0,
            stale: 0,
            last_converged_ns: 0,
            final_version: 0,
            behind: 0,
        }
    }

    /// Starts waiting for every open connection to reach `final_version`.
    fn start_round(&mut self, final_version: u64) {
        self.final_version = final_version;
        self.behind = self
            .last_version
            .iter()
            .zip(&self.alive)
            .filter(|(version, alive)| **alive && **version < final_version)
            .count();
    }

    fn apply(&mut self, event: Event) {
        let final_version = self.final_version;
        match event {
            Event::Frame {
                conn,
                version,
                at_ns,
            } => {
                self.frames += 1;
                self.receipts.push((version, at_ns));
                if version <= self.last_version[conn] {
                    self.stale += 1;
                    return;
                }
                if self.last_version[conn] < final_version && version >= final_version {
                    self.last_converged_ns = self.last_converged_ns.max(at_ns);
                    if self.alive[conn] {
                        self.behind -= 1;
                    }
                }
                self.last_version[conn] = version;
            }
            Event::Connected { conn, version } => self.last_version[conn] = version,
            Event::Closed { conn } | Event::Failed { conn, .. } => {
                if self.alive[conn] && self.last_version[conn] < final_version {
                    self.behind -= 1;
                }
                self.alive[conn] = false;
            }
        }
    }

    fn all_reached(&self) -> bool {
        self.behind == 0
    }

    fn take_receipts(&mut self) -> Vec<(u64, u64)> {
        std::mem::take(&mut self.receipts)
    }

    fn take_frames(&mut self) -> u64 {
        std::mem::take(&mut self.frames)
    }

    fn take_stale(&mut self) -> u64 {
        std::mem::take(&mut self.stale)
    }

    fn take_last_converged(&mut self) -> u64 {
        std::mem::take(&mut self.last_converged_ns)
    }
}

/// One subscriber: connects, announces itself after the first state frame, then reports every
/// state frame until the connection ends.
async fn subscriber(
    conn: usize,
    url: String,
    source: IpAddr,
    events: mpsc::UnboundedSender<Event>,
    permits: Arc<Semaphore>,
) {
    // Held until the first state frame: the handshake and the subscription are what costs.
    let mut permit = Some(permits.acquire_owned().await);
    let mut socket = match client::connect(&url, source).await {
        Ok(socket) => socket,
        Err(error) => {
            let _ = events.send(Event::Failed {
                conn,
                error: format!("{error:#}"),
            });
            return;
        }
    };
    let mut first = true;
    while let Some(message) = socket.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let at_ns = now_ns();
        let Ok(ServerMessage::State(state)) = serde_json::from_str(text.as_str()) else {
            continue;
        };
        let event = if first {
            first = false;
            permit = None;
            Event::Connected {
                conn,
                version: state.version,
            }
        } else {
            Event::Frame {
                conn,
                version: state.version,
                at_ns,
            }
        };
        if events.send(event).is_err() {
            return;
        }
    }
    drop(permit);
    if first {
        let _ = events.send(Event::Failed {
            conn,
            error: "closed before the first state".to_owned(),
        });
    } else {
        let _ = events.send(Event::Closed { conn });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(conn: usize, version: u64, at_ns: u64) -> Event {
        Event::Frame {
            conn,
            version,
            at_ns,
        }
    }

    #[test]
    fn a_version_not_above_the_last_one_is_stale() {
        let mut book = Book::new(2);
        book.apply(Event::Connected {
            conn: 0,
            version: 5,
        });
        book.apply(Event::Connected {
            conn: 1,
            version: 5,
        });
        book.start_round(8);
        book.apply(frame(0, 6, 10));
        book.apply(frame(0, 6, 11));
        book.apply(frame(1, 4, 12));
        assert_eq!(book.take_stale(), 2);
        assert_eq!(book.take_frames(), 3);
    }

    #[test]
    fn convergence_waits_for_every_open_connection() {
        let mut book = Book::new(3);
        book.start_round(8);
        book.apply(frame(0, 8, 100));
        book.apply(frame(1, 9, 300));
        assert!(!book.all_reached());
        book.apply(Event::Closed { conn: 2 });
        assert!(book.all_reached());
        // The time the last connection first reached the final version, not a later frame.
        book.apply(frame(1, 10, 900));
        assert_eq!(book.take_last_converged(), 300);
    }
}
