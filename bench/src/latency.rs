//! The clock all benchmark processes share, and latency histograms.
//!
//! Latencies cross processes (a writer in the coordinator, subscribers in workers), so times
//! are read from one clock every process shares: the system clock in nanoseconds since the
//! Unix epoch. It could step if NTP set it during a run; over a benchmark of a few minutes on
//! one machine that is the lesser evil, since `Instant` cannot be compared across processes.

use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Nanoseconds since the Unix epoch: the clock all benchmark processes share.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// A latency histogram in microseconds, from 1 µs to 10 minutes at 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant bounds are valid")
}

/// A histogram's recorded values as `(value, count)` pairs: how workers send theirs back.
pub fn to_pairs(histogram: &Histogram<u64>) -> Vec<(u64, u64)> {
    histogram
        .iter_recorded()
        .map(|value| (value.value_iterated_to(), value.count_at_value()))
        .collect()
}

pub fn add_pairs(histogram: &mut Histogram<u64>, pairs: &[(u64, u64)]) {
    for &(value, count) in pairs {
        histogram.saturating_record_n(value, count);
    }
}

/// The summary of a latency histogram quoted in the report, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Latency {
    /// How many latencies were recorded: a percentile of few samples says little.
    pub samples: u64,
    /// The median, in milliseconds.
    pub p50_ms: f64,
    /// The 99th percentile, which the fan-out target is set on.
    pub p99_ms: f64,
    /// The slowest one.
    pub max_ms: f64,
}

impl Latency {
    pub fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            samples: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            max_ms: ms(histogram.max()),
        }
    }
}
