//! The sizes of one run: a full run, a `--quick` one, only some fan-out rounds, only the
//! click latency in browsers, only the writes (on Redis, or on the embedded store), or only
//! the frontend's weight and cold loads.

use serde::Serialize;

/// Which phases a run has, and whether its figures are a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Every phase at the sizes the targets are set at: the only run written into
    /// `BENCHMARKS.md`.
    Full,
    /// A small version of everything (`--quick`): its figures are a smoke test, not a result.
    Quick,
    /// Only the fan-out rounds named on the command line (`--fanout`).
    FanoutOnly,
    /// Only the click latency in browsers (`--clicks-only`), at the full or the quick sizes.
    ClicksOnly,
    /// Only the write throughput, against one replica on the embedded store
    /// (`--embedded-writes`), at the full or the quick sizes.
    EmbeddedWrites,
    /// Only the frontend's weight and its cold loads (`--frontend-only`), at the full or the
    /// quick sizes.
    FrontendOnly,
    /// Only the write phases (`--writes-only`): throughput, and the cost of waiting for a
    /// Redis replica, at the full or the quick sizes.
    WritesOnly,
}

impl Scope {
    /// How the report names the run.
    pub fn label(self) -> &'static str {
        match self {
            Scope::Full => "full",
            Scope::Quick => "quick",
            Scope::FanoutOnly => "fan-out only",
            Scope::ClicksOnly => "clicks only",
            Scope::EmbeddedWrites => "embedded writes",
            Scope::FrontendOnly => "frontend only",
            Scope::WritesOnly => "writes only",
        }
    }
}

/// The sizes of one run.
#[derive(Clone, Serialize)]
pub struct Plan {
    /// Which phases run.
    pub scope: Scope,
    /// Idle WebSockets open on one replica at each memory measurement (running totals).
    pub idle_connections: Vec<usize>,
    /// Fan-out rounds: each subscriber count with the change rates run against it.
    pub fanout: Vec<(usize, Vec<u32>)>,
    /// How long the writer makes changes in each fan-out round.
    pub fanout_seconds: f64,
    /// Idle counters (one socket each) every replica serves beside the rounds of
    /// `idle_counter_rounds`; 0: those rounds do not run.
    pub idle_counters: usize,
    /// Fan-out rounds run again beside the idle counters, to set beside the same rounds of
    /// `fanout` without them.
    pub idle_counter_rounds: Vec<(usize, Vec<u32>)>,
    /// How many concurrent writers each write-throughput measurement has.
    pub writers: Vec<usize>,
    /// How long each write-throughput measurement runs.
    pub write_seconds: f64,
    /// Requests `redis-benchmark` sends.
    pub redis_benchmark_requests: u64,
    /// Cold loads in Chromium.
    pub page_loads: usize,
    /// Pages open on one counter in each click-latency measurement (K).
    pub click_pages: Vec<usize>,
    /// Clicks in each click-latency measurement.
    pub clicks: usize,
}

impl Plan {
    /// Every phase at the sizes the targets are set at.
    pub fn full() -> Plan {
        Plan {
            scope: Scope::Full,
            idle_connections: vec![10_000, 19_000],
            fanout: [1_000, 5_000, 10_000, 20_000]
                .into_iter()
                .map(|subscribers| (subscribers, vec![1, 10, 100, 1_000]))
                .collect(),
            fanout_seconds: 5.0,
            idle_counters: 10_000,
            idle_counter_rounds: vec![(1_000, vec![1, 10, 100, 1_000])],
            writers: vec![1, 16, 256],
            write_seconds: 5.0,
            redis_benchmark_requests: 200_000,
            page_loads: 10,
            click_pages: vec![2, 8],
            clicks: 50,
        }
    }

    /// Every phase, small: a minute or two.
    pub fn quick() -> Plan {
        Plan {
            scope: Scope::Quick,
            idle_connections: vec![1_000],
            fanout: vec![(1_000, vec![10, 1_000])],
            fanout_seconds: 2.0,
            idle_counters: 2_000,
            idle_counter_rounds: vec![(1_000, vec![1_000])],
            writers: vec![1, 16],
            write_seconds: 1.5,
            redis_benchmark_requests: 20_000,
            page_loads: 2,
            click_pages: vec![2, 8],
            clicks: 10,
        }
    }

    /// Only these fan-out rounds (subscribers, changes per second), five seconds each; run
    /// again beside idle counters only when a number of them is asked for.
    pub fn fanout_only(rounds: &[(usize, u32)]) -> Plan {
        let fanout: Vec<(usize, Vec<u32>)> = rounds
            .iter()
            .map(|&(subscribers, rate)| (subscribers, vec![rate]))
            .collect();
        Plan {
            scope: Scope::FanoutOnly,
            idle_counter_rounds: fanout.clone(),
            fanout,
            fanout_seconds: 5.0,
            idle_counters: 0,
            ..Plan::quick()
        }
    }

    /// Only the click latency in browsers, at the sizes of `sizes`.
    pub fn clicks_only(sizes: Plan) -> Plan {
        Plan {
            scope: Scope::ClicksOnly,
            ..sizes
        }
    }

    /// Only the write throughput on the embedded store, at the sizes of `sizes`.
    pub fn embedded_writes(sizes: Plan) -> Plan {
        Plan {
            scope: Scope::EmbeddedWrites,
            ..sizes
        }
    }

    /// Only the frontend's weight and cold loads, at the sizes of `sizes`.
    pub fn frontend_only(sizes: Plan) -> Plan {
        Plan {
            scope: Scope::FrontendOnly,
            ..sizes
        }
    }

    /// Only the write phases, at the sizes of `sizes`.
    pub fn writes_only(sizes: Plan) -> Plan {
        Plan {
            scope: Scope::WritesOnly,
            ..sizes
        }
    }

    /// Whether this is a full run, the only kind whose figures go into `BENCHMARKS.md`.
    pub fn is_full(&self) -> bool {
        self.scope == Scope::Full
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
