//! The sizes of one run: a full run, a `--quick` one, or only some fan-out rounds.

use serde::Serialize;

/// The sizes of one run.
#[derive(Clone, Serialize)]
pub struct Plan {
    /// A small version of everything (`--quick`): its figures are a smoke test, not a result.
    pub quick: bool,
    /// Idle WebSockets open on one replica at each memory measurement (running totals).
    pub idle_connections: Vec<usize>,
    /// Fan-out rounds: each subscriber count with the change rates run against it.
    pub fanout: Vec<(usize, Vec<u32>)>,
    /// Only the fan-out rounds run (`--fanout`).
    pub fanout_only: bool,
    /// How long the writer makes changes in each fan-out round.
    pub fanout_seconds: f64,
    /// How many concurrent writers each write-throughput measurement has.
    pub writers: Vec<usize>,
    /// How long each write-throughput measurement runs.
    pub write_seconds: f64,
    /// Requests `redis-benchmark` sends.
    pub redis_benchmark_requests: u64,
    /// Cold loads in Chromium.
    pub page_loads: usize,
}

impl Plan {
    /// Every phase at the sizes the targets are set at.
    pub fn full() -> Plan {
        Plan {
            quick: false,
            idle_connections: vec![10_000, 19_000],
            fanout: [1_000, 5_000, 10_000, 20_000]
                .into_iter()
                .map(|subscribers| (subscribers, vec![1, 10, 100, 1_000]))
                .collect(),
            fanout_only: false,
            fanout_seconds: 5.0,
            writers: vec![1, 16, 256],
            write_seconds: 5.0,
            redis_benchmark_requests: 200_000,
            page_loads: 10,
        }
    }

    /// Every phase, small: under a minute.
    pub fn quick() -> Plan {
        Plan {
            quick: true,
            idle_connections: vec![1_000],
            fanout: vec![(1_000, vec![10, 1_000])],
            fanout_only: false,
            fanout_seconds: 2.0,
            writers: vec![1, 16],
            write_seconds: 1.5,
            redis_benchmark_requests: 20_000,
            page_loads: 2,
        }
    }

    /// Only these fan-out rounds (subscribers, changes per second), five seconds each.
    pub fn fanout_only(rounds: &[(usize, u32)]) -> Plan {
        Plan {
            fanout: rounds
                .iter()
                .map(|&(subscribers, rate)| (subscribers, vec![rate]))
                .collect(),
            fanout_seconds: 5.0,
            fanout_only: true,
            ..Plan::quick()
        }
    }

    /// Whether this is a full run, the only kind whose figures go into `BENCHMARKS.md`.
    pub fn is_full(&self) -> bool {
        !self.quick && !self.fanout_only
    }
}

/// Parses `--fanout SUBSCRIBERS:RATE`.
pub fn parse_round(text: &str) -> Result<(usize, u32), String> {
    let (subscribers, rate) = text
        .split_once(':')
        .ok_or_else(|| format!("expected SUBSCRIBERS:RATE, got {text}"))?;
    let number = |part: &str| part.trim().parse().map_err(|e| format!("{part}: {e}"));
    Ok((number(subscribers)?, number(rate)? as u32))
}
